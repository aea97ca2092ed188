// dt[r, c] = softplus(dt[r, c] + bias[c]).
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void BiasSoftplusKernel(float* dt, int ld, int rows, int cols, const float* bias) {
  const size_t n = static_cast<size_t>(rows) * cols;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = e / cols, c = e % cols;
    float* p = dt + r * ld + c;
    *p = Softplus(*p + bias[c]);
  }
}

}  // namespace

cudaError_t LaunchBiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias,
                               cudaStream_t stream) {
  const size_t n = static_cast<size_t>(rows) * cols;
  if (n == 0) return cudaSuccess;
  BiasSoftplusKernel<<<GridFor(n), 256, 0, stream>>>(dt, ld, rows, cols, bias);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
