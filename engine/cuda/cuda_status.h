// CUDA and cuBLAS return codes as absl::Status (internal to engine/cuda).
//
// Thread safety: pure functions.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"

namespace hymba::engine::cuda {

// OK for cudaSuccess; ResourceExhausted for out-of-memory; Internal otherwise. The message is
// "cuda: <what>: <error name>: <error string>".
absl::Status CudaStatus(cudaError_t error, const char* what);
absl::Status CublasStatus(cublasStatus_t status, const char* what);

}  // namespace hymba::engine::cuda
