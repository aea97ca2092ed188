// y = w ⊙ x / sqrt(mean(x²) + eps) per row; one block per row. x and y may alias: every thread
// reads its own elements before writing them.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void RmsNormKernel(const float* x, int ld_x, int cols, const float* w, float eps,
                              float* y, int ld_y) {
  __shared__ float scratch[kWarp];
  const float* xr = x + static_cast<size_t>(blockIdx.x) * ld_x;
  float* yr = y + static_cast<size_t>(blockIdx.x) * ld_y;
  float sum = 0.0f;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) sum += xr[c] * xr[c];
  sum = BlockSum(sum, scratch);
  const float inv = 1.0f / sqrtf(sum / static_cast<float>(cols) + eps);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = w[c] * (xr[c] * inv);
}

}  // namespace

cudaError_t LaunchRmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps,
                          float* y, int ld_y, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  RmsNormKernel<<<rows, RowThreads(cols), 0, stream>>>(x, ld_x, cols, w, eps, y, ld_y);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
