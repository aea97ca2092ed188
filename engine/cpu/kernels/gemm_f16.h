// Many-row y = x·Wᵀ on bf16 panels (bf16_panels.h) with AVX512-FP16 multiply-adds, for CPUs that
// have them but not AMX: the fp16 FMA does twice the multiply-adds per cycle of the fp32 FMA and
// four times those of AVX512-BF16 dot products there (benchmarks/fma_peak).
//
// Arithmetic, per output y[r, c] = Σ_k x[r, k]·W[c, k]:
//   - W[c, k] is scaled by a power of two per column (its largest |W| lands in [1, 2)) and
//     converted to fp16: exact for the bf16 values of normal range (8 significant bits < 11);
//   - x[r, k] is scaled by a power of two per row (its largest |x| lands in [8, 16)) and rounded
//     to fp16 (11 significant bits, against 8 for bf16 rounding);
//   - products are summed in fp16 over runs of kF16Run terms (|run sum| < 1024, far from fp16's
//     65504), and the runs in fp32; the two scales are undone exactly at the end.
// The total error is below that of rounding x to bf16 with exact fp32 accumulation.
//
// Thread safety: GemmF16 runs on the OpenMP pool; its scratch is per calling thread.
#pragma once

#include <vector>

#include "engine/cpu/kernels/bf16_panels.h"

namespace hymba::engine::cpu {

// Products per fp16 run before it is added to the fp32 total.
constexpr int kF16Run = 32;

// True when the CPU has AVX512-FP16.
bool GemmF16Available();

// The per-column scales of W (powers of two), n values.
std::vector<float> F16ColumnScales(const Bf16Panels& w);

// y[m, n] = x[m, k]·Wᵀ (+ y when accumulate). REQUIRES: GemmF16Available(); col_scale from
// F16ColumnScales(w); every |x| finite and below 2^120.
void GemmF16(const Bf16Panels& w, const std::vector<float>& col_scale, const float* x, int ld_x,
             int m, float* y, int ld_y, bool accumulate);

}  // namespace hymba::engine::cpu
