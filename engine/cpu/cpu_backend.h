// CpuBackend: the Backend on host memory. GEMMs go through oneDNN with pre-packed weights (f32,
// or bf16 with fp32 accumulation); attention, conv, scan and norms are the hand-written kernels
// in cpu/kernels/. Work is spread over `threads` OpenMP threads.
//
// Ownership: owns nothing but its options; buffers and packed weights it returns own their
// memory.
// Errors: Create fails with InvalidArgument for threads < 0 and FailedPrecondition when bf16 is
// asked for on a CPU without AVX512-BF16.
// Thread safety: one caller at a time (the engine loop); kernels fan out internally.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "engine/api/backend.h"

namespace hymba::engine {

struct CpuBackendOptions {
  int threads = 0;  // 0 = all cores
  Precision precision = Precision::kF32;
  bool prefill_gemm_fp16 = false;  // BackendOptions::prefill_gemm_fp16; bf16 precision only
};

// True when the CPU executes AVX512-BF16 dot products (the bf16 fast path).
bool CpuHasAvx512Bf16();

class CpuBackend final : public Backend {
 public:
  static absl::StatusOr<std::unique_ptr<CpuBackend>> Create(const CpuBackendOptions& options);

  std::string name() const override { return "cpu"; }
  Precision precision() const override { return options_.precision; }
  int threads() const { return threads_; }

  absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) override;
  void Free(void* data, size_t bytes) override;
  void CopyToDevice(void* dst, const void* src, size_t bytes) override;
  void CopyToHost(void* dst, const void* src, size_t bytes) override;
  void CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override;
  void Fill(void* dst, size_t bytes, uint8_t value) override;
  void Synchronize() override {}
  void PrepareThread() override;
  absl::Status TakeError() override;

  absl::StatusOr<std::unique_ptr<PackedWeight>> PackWeight(const HostMatrix& src) override;
  void Gemm(const float* x, int ld_x, int m, const PackedWeight& w, float* y, int ld_y,
            bool accumulate) override;
  void Embed(const int32_t* ids_host, int count, const void* table, bool table_bf16, int cols,
             float* out, int ld_out) override;
  void RmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps, float* y,
               int ld_y) override;
  void Rope(float* x, int ld_x, int rows, int heads, int head_dim, const int32_t* positions_host,
            double base) override;
  void Attention(const AttentionArgs& args) override;
  void KvWrite(const KvWriteArgs& args) override;
  void CausalConv(const CausalConvArgs& args) override;
  void SelectiveScan(const SelectiveScanArgs& args) override;
  void BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias) override;
  void GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols,
                       bool relu2) override;
  void FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y,
                 const float* wy, int rows, int cols, float eps, float* out, int ld_out) override;
  void AddBias(float* x, int ld, int rows, int cols, const float* bias) override;
  void CopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst,
                  int ld_dst) override;
  void GatherRows(const float* src, int ld_src, const int32_t* rows_host, int count, int cols,
                  float* dst, int ld_dst) override;

 private:
  explicit CpuBackend(const CpuBackendOptions& options, int threads)
      : options_(options), threads_(threads) {}
  CpuBackendOptions options_;
  int threads_;
  absl::Status error_;  // first failure inside an op since the last TakeError
};

}  // namespace hymba::engine
