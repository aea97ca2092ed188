#include "engine/cuda/cuda_weight.h"

#include "engine/cuda/cuda_status.h"
#include "engine/cuda/kernels/cuda_kernels.h"

namespace hymba::engine::cuda {

absl::Status CudaWeight::Apply(const CublasApi& blas, cublasHandle_t cublas, cudaStream_t stream,
                               const float* x, int ld_x, int m, float* y, int ld_y, bool accumulate,
                               uint16_t* x_bf16) const {
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  // Column-major view: y is [n, m] with leading dimension ld_y; W [n, k] row-major is a
  // column-major [k, n], used transposed; x [m, k] row-major is a column-major [k, m].
  if (bf16_) {
    const cudaError_t launched = LaunchToBf16(x, ld_x, m, k_, x_bf16, stream);
    if (launched != cudaSuccess) return CudaStatus(launched, "rounding GEMM inputs to bf16");
    return CublasStatus(blas.gemm_ex(cublas, CUBLAS_OP_T, CUBLAS_OP_N, n_, m, k_, &alpha,
                                     data_.data(), CUDA_R_16BF, k_, x_bf16, CUDA_R_16BF, k_, &beta,
                                     y, CUDA_R_32F, ld_y, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                        "bf16 GEMM");
  }
  // PEDANTIC: no TF32 or other reduced-precision shortcut, whatever the environment says.
  return CublasStatus(
      blas.gemm_ex(cublas, CUBLAS_OP_T, CUBLAS_OP_N, n_, m, k_, &alpha, data_.data(), CUDA_R_32F,
                   k_, x, CUDA_R_32F, ld_x, &beta, y, CUDA_R_32F, ld_y, CUBLAS_COMPUTE_32F_PEDANTIC,
                   CUBLAS_GEMM_DEFAULT),
      "f32 GEMM");
}

}  // namespace hymba::engine::cuda
