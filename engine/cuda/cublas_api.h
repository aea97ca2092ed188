// CublasApi: the cuBLAS entry points the backend uses, resolved at run time from
// libcublas.so.<major> with dlopen instead of being linked. Linking would load libcublasLt when
// the program starts, and its 94 KB of static thread-local storage would then have to fit in the
// stack of every thread the process creates: civetweb (the metrics endpoint) starts threads with
// 64 KB stacks and fails. Loaded with dlopen, that storage is allocated per thread on first use.
// A program that never creates a CUDA backend never loads cuBLAS at all.
//
// Ownership: the library stays loaded for the life of the process.
// Errors: Load returns NotFound naming the library when it or a symbol is missing.
// Thread safety: Load is thread-safe; the function pointers are plain cuBLAS calls.
#pragma once

#include <cublas_v2.h>

#include "absl/status/statusor.h"

namespace hymba::engine::cuda {

struct CublasApi {
  decltype(&cublasCreate) create = nullptr;
  decltype(&cublasDestroy) destroy = nullptr;
  decltype(&cublasSetStream) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  // cublasGemmEx (the header overloads the name in C++, so its C signature is spelled out).
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const void*, const void*, cudaDataType_t, int, const void*,
                            cudaDataType_t, int, const void*, void*, cudaDataType_t, int,
                            cublasComputeType_t, cublasGemmAlgo_t) = nullptr;

  // Loads the library once per process.
  static absl::StatusOr<const CublasApi*> Load();
};

}  // namespace hymba::engine::cuda
