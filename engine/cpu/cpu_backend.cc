#include "engine/cpu/cpu_backend.h"

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <thread>

#include "absl/strings/str_cat.h"
#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/gemm.h"
#include "engine/cpu/kernels/gemm_f16.h"
#include "spdlog/spdlog.h"

namespace hymba::engine {
namespace {
constexpr size_t kAlignment = 64;
}

bool CpuHasAvx512Bf16() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

absl::StatusOr<std::unique_ptr<CpuBackend>> CpuBackend::Create(const CpuBackendOptions& options) {
  if (options.threads < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads = ", options.threads, ": must be >= 0"));
  }
  if (options.precision == Precision::kBf16 && !CpuHasAvx512Bf16()) {
    return absl::FailedPreconditionError(
        "precision bf16 needs a CPU with AVX512-BF16; use --precision f32 or auto");
  }
  if (options.prefill_gemm_fp16 && options.precision != Precision::kBf16) {
    return absl::InvalidArgumentError("prefill_gemm fp16: needs precision bf16");
  }
  if (options.prefill_gemm_fp16 && !cpu::GemmF16Available()) {
    return absl::FailedPreconditionError(
        "prefill_gemm fp16 needs a CPU with AVX512-FP16; leave it at default");
  }
  int threads = options.threads;
  if (threads == 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  // OpenMP's pool is process-wide (oneDNN and the kernels share it); its size is a per-thread
  // setting, applied again by PrepareThread on whichever thread runs a step.
  auto backend = std::unique_ptr<CpuBackend>(new CpuBackend(options, threads));
  backend->PrepareThread();
  if (options.precision == Precision::kBf16) {
    spdlog::info("cpu backend: {} threads; bf16 GEMMs over {}", threads,
                 options.prefill_gemm_fp16
                     ? "32 rows: AVX512-FP16 (fp16 runs of 32 products, fp32 sums)"
                 : cpu::CpuHasAmxBf16() ? "64 rows: AMX-BF16 (oneDNN)"
                                        : "64 rows: fp32 FMA on widened weights (oneDNN)");
  }
  return backend;
}

void CpuBackend::PrepareThread() { omp_set_num_threads(threads_); }

absl::StatusOr<DeviceBuffer> CpuBackend::Allocate(size_t bytes) {
  const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = rounded == 0 ? nullptr : std::aligned_alloc(kAlignment, rounded);
  if (rounded != 0 && p == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cpu: cannot allocate ", bytes, " bytes"));
  }
  if (p != nullptr) std::memset(p, 0, rounded);
  return DeviceBuffer(this, p, bytes);
}

void CpuBackend::Free(void* data, size_t) { std::free(data); }
void CpuBackend::CopyToDevice(void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); }
void CpuBackend::CopyToHost(void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); }
void CpuBackend::CopyDeviceToDevice(void* dst, const void* src, size_t n) {
  std::memcpy(dst, src, n);
}
void CpuBackend::Fill(void* dst, size_t n, uint8_t value) { std::memset(dst, value, n); }

absl::StatusOr<std::unique_ptr<PackedWeight>> CpuBackend::PackWeight(const HostMatrix& src) {
  auto packed =
      cpu::CpuWeight::Pack(src, options_.precision == Precision::kBf16, options_.prefill_gemm_fp16);
  if (!packed.ok()) return packed.status();
  return std::unique_ptr<PackedWeight>(std::move(packed).value());
}

void CpuBackend::Gemm(const float* x, int ld_x, int m, const PackedWeight& w, float* y, int ld_y,
                      bool accumulate) {
  // oneDNN reports failures by exception; none may leave the backend.
  try {
    static_cast<const cpu::CpuWeight&>(w).Apply(x, ld_x, m, y, ld_y, accumulate);
  } catch (const std::bad_alloc&) {
    if (error_.ok()) error_ = absl::ResourceExhaustedError("cpu: out of memory in a GEMM");
  } catch (const std::exception& e) {
    if (error_.ok()) error_ = absl::InternalError(absl::StrCat("cpu: GEMM failed: ", e.what()));
  }
}

absl::Status CpuBackend::TakeError() {
  absl::Status status = error_;
  error_ = absl::OkStatus();
  return status;
}

void CpuBackend::Embed(const int32_t* ids, int count, const void* table, bool table_bf16, int cols,
                       float* out, int ld_out) {
  cpu::Embed(ids, count, table, table_bf16, cols, out, ld_out);
}
void CpuBackend::RmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps,
                         float* y, int ld_y) {
  cpu::RmsNorm(x, ld_x, rows, cols, w, eps, y, ld_y);
}
void CpuBackend::Rope(float* x, int ld_x, int rows, int heads, int head_dim,
                      const int32_t* positions, double base) {
  cpu::Rope(x, ld_x, rows, heads, head_dim, positions, base);
}
void CpuBackend::Attention(const AttentionArgs& args) { cpu::Attention(args); }
void CpuBackend::KvWrite(const KvWriteArgs& args) { cpu::KvWrite(args); }
void CpuBackend::CausalConv(const CausalConvArgs& args) { cpu::CausalConv(args); }
void CpuBackend::SelectiveScan(const SelectiveScanArgs& args) { cpu::SelectiveScan(args); }
void CpuBackend::BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias) {
  cpu::BiasSoftplus(dt, ld, rows, cols, bias);
}
void CpuBackend::GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols,
                                 bool relu2) {
  cpu::GatedActivation(a, ld_a, b, ld_b, rows, cols, relu2);
}
void CpuBackend::FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                           const float* wy, int rows, int cols, float eps, float* out, int ld_out) {
  cpu::FuseNorms(a, ld_a, wa, y, ld_y, wy, rows, cols, eps, out, ld_out);
}
void CpuBackend::AddBias(float* x, int ld, int rows, int cols, const float* bias) {
  cpu::AddBias(x, ld, rows, cols, bias);
}
void CpuBackend::CopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst,
                            int ld_dst) {
  cpu::CopyMatrix(src, ld_src, rows, cols, dst, ld_dst);
}
void CpuBackend::GatherRows(const float* src, int ld_src, const int32_t* rows, int count, int cols,
                            float* dst, int ld_dst) {
  cpu::GatherRows(src, ld_src, rows, count, cols, dst, ld_dst);
}

}  // namespace hymba::engine
