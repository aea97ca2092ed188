// CudaBackend's state, shared by cuda_backend.cc (memory, copies, GEMMs) and
// cuda_backend_ops.cc (the kernel ops). Internal to engine/cuda.
//
// Thread safety: not thread-safe; the backend's single user.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/cuda/cublas_api.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_status.h"
#include "engine/cuda/device_pool.h"
#include "engine/cuda/index_uploads.h"

namespace hymba::engine {

struct CudaBackend::Impl {
  // Reusable device scratch owned by the backend.
  enum ScratchKind { kGemmInput, kAttentionPartial, kScratchKinds };

  int device = 0;
  Precision precision = Precision::kBf16;
  std::string name;
  int multiprocessors = 1;
  size_t shared_optin = 48 * 1024;  // dynamic shared memory a block may opt into
  cudaStream_t stream = nullptr;
  const cuda::CublasApi* blas = nullptr;  // cuBLAS, loaded at Create
  cublasHandle_t cublas = nullptr;
  cuda::DevicePool pool;
  std::unique_ptr<cuda::IndexUploads> uploads;
  void* scratch[kScratchKinds] = {};
  size_t scratch_bytes[kScratchKinds] = {};
  absl::Status error;  // first failure since the last TakeError

  // Keeps the first failure. Returns s.ok().
  bool Record(const absl::Status& s) {
    if (!s.ok() && error.ok()) error = s;
    return s.ok();
  }
  bool Check(cudaError_t e, const char* what) { return Record(cuda::CudaStatus(e, what)); }

  // Scratch of at least `bytes` (contents undefined), or nullptr after recording the failure.
  void* Scratch(ScratchKind kind, size_t bytes) {
    if (bytes <= scratch_bytes[kind]) return scratch[kind];
    if (scratch[kind] != nullptr) pool.Release(scratch[kind]);  // stream order protects readers
    scratch[kind] = nullptr;
    scratch_bytes[kind] = 0;
    absl::StatusOr<void*> block = pool.Allocate(bytes);
    if (!Record(block.status())) return nullptr;
    scratch[kind] = *block;
    scratch_bytes[kind] = bytes;
    return scratch[kind];
  }

  // Device copy of a host index array, or nullptr after recording the failure.
  template <typename T>
  const T* Upload(cuda::IndexChannel channel, const T* host, size_t count) {
    absl::StatusOr<const void*> p = uploads->Upload(channel, host, count * sizeof(T));
    if (!Record(p.status())) return nullptr;
    return static_cast<const T*>(*p);
  }
};

}  // namespace hymba::engine
