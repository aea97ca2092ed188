// out = (RmsNorm(a; wa) + RmsNorm(y; wy)) / 2 per row (HYMBA.md "Fusion"); one block per row.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void FuseNormsKernel(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                                const float* wy, int cols, float eps, float* out, int ld_out) {
  __shared__ float scratch[kWarp];
  const float* ar = a + static_cast<size_t>(blockIdx.x) * ld_a;
  const float* yr = y + static_cast<size_t>(blockIdx.x) * ld_y;
  float* o = out + static_cast<size_t>(blockIdx.x) * ld_out;
  float sa = 0.0f, sy = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    sa += ar[c] * ar[c];
    sy += yr[c] * yr[c];
  }
  sa = BlockSum(sa, scratch);
  sy = BlockSum(sy, scratch);
  const float ia = 0.5f / sqrtf(sa / cols + eps), iy = 0.5f / sqrtf(sy / cols + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x)
    o[c] = wa[c] * (ar[c] * ia) + wy[c] * (yr[c] * iy);
}

}  // namespace

cudaError_t LaunchFuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                            const float* wy, int rows, int cols, float eps, float* out, int ld_out,
                            cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  FuseNormsKernel<<<rows, RowThreads(cols), 0, stream>>>(a, ld_a, wa, y, ld_y, wy, cols, eps, out,
                                                         ld_out);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
