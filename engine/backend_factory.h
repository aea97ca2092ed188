// Chooses and creates the Backend for a device name. This file is the only place that knows
// which backends were compiled in (the one `#if HYMBA_WITH_CUDA` of the code base).
//
// Errors: Unimplemented for "cuda" in a build without CUDA; NotFound for "cuda" without a GPU;
// InvalidArgument for an unknown device or precision name, or prefill_gemm_fp16 off the CPU's
// bf16 precision; FailedPrecondition for prefill_gemm_fp16 on a CPU without AVX512-FP16.
// Thread safety: functions are thread-safe; the returned backend is not.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/api/backend.h"

namespace hymba::engine {

struct BackendOptions {
  std::string device = "auto";     // auto (cuda when a GPU is present, else cpu) | cpu | cuda
  std::string precision = "auto";  // auto | f32 | bf16
  int threads = 0;                 // CPU worker threads; 0 = all cores
  // CPU, bf16 precision: GEMMs over more than 32 rows (prompt chunks and the decodes that share
  // their steps) in AVX512-FP16 arithmetic, fp16 runs of 32 products summed in fp32
  // (engine/cpu/kernels/gemm_f16.h). Faster where the CPU has AVX512-FP16 but not AMX; the error
  // is that of rounding the activations to bf16 or less.
  bool prefill_gemm_fp16 = false;
};

// Resolves "auto": bf16 where the CPU has AVX512-BF16 (or on a GPU), else f32. `device` is the
// resolved device (cpu or cuda).
absl::StatusOr<Precision> ResolvePrecision(const std::string& name, const std::string& device);

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options);

// Whether this binary was built with the CUDA backend.
bool CudaCompiledIn();
// Whether the CUDA backend is built in and a GPU is usable ("auto" then picks it).
bool CudaDevicePresent();

}  // namespace hymba::engine
