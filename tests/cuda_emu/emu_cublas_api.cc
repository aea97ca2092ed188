// CublasApi for the CUDA stand-in: its cuBLAS functions are linked in (emu_runtime.cc), so
// nothing is loaded; replaces engine/cuda/cublas_api.cc in hymba_backend_cuda_emu.
#include "engine/cuda/cublas_api.h"

namespace hymba::engine::cuda {

absl::StatusOr<const CublasApi*> CublasApi::Load() {
  static const CublasApi api = [] {
    CublasApi a;
    a.create = &cublasCreate;
    a.destroy = &cublasDestroy;
    a.set_stream = &cublasSetStream;
    a.set_math_mode = &cublasSetMathMode;
    a.gemm_ex = cublasGemmEx;
    return a;
  }();
  return &api;
}

}  // namespace hymba::engine::cuda
