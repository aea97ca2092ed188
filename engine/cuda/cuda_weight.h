// CudaWeight: a GEMM weight W [n, k] in device memory in its checkpoint layout (row-major, the
// PyTorch Linear layout): bf16 in bf16 precision, fp32 in f32 precision. Apply runs
// y[m, n] = x[m, k]·Wᵀ (+ y) through cuBLAS with fp32 accumulation: in bf16 precision the fp32
// activations are first rounded to bf16 (the tensor cores' input type); in f32 precision it is a
// plain fp32 GEMM with TF32 disabled.
//
// Ownership: owns its device buffer, which borrows the backend's allocator (the backend must
// outlive it).
// Errors: Apply returns cuBLAS / launch failures.
// Thread safety: not thread-safe; the backend's single user calls it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "absl/status/status.h"
#include "engine/api/backend.h"
#include "engine/cuda/cublas_api.h"

namespace hymba::engine::cuda {

class CudaWeight final : public PackedWeight {
 public:
  CudaWeight(DeviceBuffer data, int n, int k, bool bf16)
      : data_(std::move(data)), n_(n), k_(k), bf16_(bf16) {}

  int n() const override { return n_; }
  int k() const override { return k_; }
  size_t bytes() const override { return data_.bytes(); }
  bool bf16() const { return bf16_; }
  const void* data() const { return data_.data(); }

  // y[m, n] = x[m, k]·Wᵀ (+ y when accumulate). `x_bf16` is scratch of at least m·k bf16 values
  // (bf16 precision only). REQUIRES: m > 0, ld_x >= k, ld_y >= n.
  absl::Status Apply(const CublasApi& blas, cublasHandle_t cublas, cudaStream_t stream,
                     const float* x, int ld_x, int m, float* y, int ld_y, bool accumulate,
                     uint16_t* x_bf16) const;

 private:
  DeviceBuffer data_;  // [n, k] bf16 or fp32
  int n_, k_;
  bool bf16_;
};

}  // namespace hymba::engine::cuda
