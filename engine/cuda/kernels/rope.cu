// Rotate-half RoPE in place; one block per row. Angles in double, as on the CPU (HYMBA.md
// "Precision": fp32 angles drift by radians at long positions), then rounded to fp32 cos/sin.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void RopeKernel(float* x, int ld_x, int heads, int head_dim, const int32_t* positions,
                           double base) {
  extern __shared__ float table[];  // [half] cos, then [half] sin
  const int half = head_dim / 2;
  const double pos = positions[blockIdx.x];
  for (int j = threadIdx.x; j < half; j += blockDim.x) {
    const double angle = pos * pow(base, -2.0 * j / head_dim);
    table[j] = static_cast<float>(cos(angle));
    table[half + j] = static_cast<float>(sin(angle));
  }
  __syncthreads();
  float* row = x + static_cast<size_t>(blockIdx.x) * ld_x;
  for (int e = threadIdx.x; e < heads * half; e += blockDim.x) {
    const int h = e / half, j = e % half;
    float* v = row + h * head_dim;
    const float a = v[j], b = v[j + half], c = table[j], s = table[half + j];
    v[j] = a * c - b * s;
    v[j + half] = b * c + a * s;
  }
}

}  // namespace

cudaError_t LaunchRope(float* x, int ld_x, int rows, int heads, int head_dim,
                       const int32_t* positions, double base, cudaStream_t stream) {
  if (rows == 0 || heads == 0 || head_dim < 2) return cudaSuccess;
  const size_t smem = static_cast<size_t>(head_dim / 2) * 2 * sizeof(float);
  RopeKernel<<<rows, RowThreads(heads * head_dim / 2), smem, stream>>>(x, ld_x, heads, head_dim,
                                                                       positions, base);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
