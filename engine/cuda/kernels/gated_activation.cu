// a = SiLU(a) ⊙ b (gated FFN) or relu(a)² (ungated).
#include "engine/cuda/kernels/cuda_kernels.h"
#include "engine/cuda/kernels/device_math.cuh"

namespace hymba::engine::cuda {
namespace {

__global__ void GatedActivationKernel(float* a, int ld_a, const float* b, int ld_b, int rows,
                                      int cols, bool relu2) {
  const size_t n = static_cast<size_t>(rows) * cols;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t r = e / cols, c = e % cols;
    float* p = a + r * ld_a + c;
    if (relu2) {
      const float v = fmaxf(*p, 0.0f);
      *p = v * v;
    } else {
      *p = Silu(*p) * b[r * ld_b + c];
    }
  }
}

}  // namespace

cudaError_t LaunchGatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols,
                                  bool relu2, cudaStream_t stream) {
  const size_t n = static_cast<size_t>(rows) * cols;
  if (n == 0) return cudaSuccess;
  GatedActivationKernel<<<GridFor(n), 256, 0, stream>>>(a, ld_a, b, ld_b, rows, cols, relu2);
  return cudaGetLastError();
}

}  // namespace hymba::engine::cuda
