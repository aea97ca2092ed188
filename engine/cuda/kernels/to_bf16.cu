// fp32 activation rows -> dense bf16, the A operand of the bf16 GEMMs.
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void ToBf16Kernel(const float* x, int ld_x, int rows, int cols, uint16_t* out) {
  const size_t n = static_cast<size_t>(rows) * cols;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = e / cols, c = e % cols;
    out[e] = F32ToBf16(x[r * ld_x + c]);
  }
}

}  // namespace

cudaError_t LaunchToBf16(const float* x, int ld_x, int rows, int cols, uint16_t* out,
                         cudaStream_t stream) {
  const size_t n = static_cast<size_t>(rows) * cols;
  if (n == 0) return cudaSuccess;
  ToBf16Kernel<<<GridFor(n), 256, 0, stream>>>(x, ld_x, rows, cols, out);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
