// x[r, c] += bias[c].
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void AddBiasKernel(float* x, int ld, int rows, int cols, const float* bias) {
  const size_t n = static_cast<size_t>(rows) * cols;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = e / cols, c = e % cols;
    x[r * ld + c] += bias[c];
  }
}

}  // namespace

cudaError_t LaunchAddBias(float* x, int ld, int rows, int cols, const float* bias,
                          cudaStream_t stream) {
  const size_t n = static_cast<size_t>(rows) * cols;
  if (n == 0) return cudaSuccess;
  AddBiasKernel<<<GridFor(n), 256, 0, stream>>>(x, ld, rows, cols, bias);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
