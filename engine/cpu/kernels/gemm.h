// y = x·Wᵀ on the CPU. Activations are fp32 and accumulation is fp32 in every path but the
// opt-in many-row AVX512-FP16 one below, which adds fp16 runs of 32 products in fp32.
//
// f32 precision: W is packed once into oneDNN's preferred blocked f32 layout; oneDNN matmul.
// bf16 precision: W stays bf16 (half the bytes to stream), in the GEMV's column panels
// (bf16_panels.h). The rows are all of a step's packed tokens, prompt chunks and decodes alike:
//   - packed with fp16_rows (the backend's prefill_gemm_fp16 option) and more than 32 rows:
//     gemm_f16.h, fp16 products of scaled x and W with errors like those of rounding x to bf16,
//     ahead of AMX too; so a sequence's logits can differ by that much between steps of up to
//     32 tokens and larger ones;
//   - up to 4·kGemvMaxRows rows (decode batches): the GEMV kernel in gemv_bf16.cc, in passes of
//     kGemvMaxRows rows;
//   - more rows, CPU with AMX: W is unpacked to a dense bf16 scratch and oneDNN's bf16 matmul
//     runs (x rounded to bf16, with the same consequence);
//   - more rows, otherwise: W is widened to fp32 a column block at a time (about 2 MiB, a core's
//     L2 here) and oneDNN's f32 matmul runs on each block, each thread on its own blocks; the
//     f32 FMA is twice as fast as AVX512-BF16 dot products on such CPUs (benchmarks/fma_peak).
//
// Ownership: CpuWeight owns its copy of W and its primitive cache.
// Errors: Pack returns Internal when oneDNN rejects the shape.
// Thread safety: not thread-safe (primitive cache, scratch); one engine thread uses it.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "engine/api/backend.h"

namespace hymba::engine::cpu {

class CpuWeight : public PackedWeight {
 public:
  // fp16_rows (with bf16): Applies over more than 32 rows run gemm_f16.h. REQUIRES then
  // GemmF16Available().
  static absl::StatusOr<std::unique_ptr<CpuWeight>> Pack(const HostMatrix& src, bool bf16,
                                                         bool fp16_rows = false);
  ~CpuWeight() override;

  int n() const override { return n_; }
  int k() const override { return k_; }
  size_t bytes() const override;

  // y[m, n] = x[m, k]·Wᵀ (+ y when accumulate).
  void Apply(const float* x, int ld_x, int m, float* y, int ld_y, bool accumulate) const;

 private:
  struct Impl;
  CpuWeight(int n, int k, std::unique_ptr<Impl> impl);
  // Apply for many rows of dense x on bf16 weights without AMX: W widened block by block.
  void ApplyWidenedBlocks(const float* x, int m, float* y, int ld_y, bool accumulate) const;
  int n_, k_;
  std::unique_ptr<Impl> impl_;
};

// True when the CPU has AMX-BF16 tiles (oneDNN then runs bf16 matmuls at several times the
// AVX-512 rate).
bool CpuHasAmxBf16();

}  // namespace hymba::engine::cpu
