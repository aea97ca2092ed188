// Many-row y = x·Wᵀ on bf16 panels (bf16_panels.h) with AVX512-FP16 multiply-adds, meant for
// CPUs that have them but not AMX: the fp16 FMA does twice the multiply-adds per cycle of the fp32
// FMA and four times those of AVX512-BF16 dot products there (benchmarks/fma_peak).
//
// Arithmetic, per output y[r, c] = Σ_k x[r, k]·W[c, k]:
//   - W[c, k] is scaled by a power of two per column (its largest |W| lands in [16, 32)) and
//     converted to fp16: exact for values within 2^18 of that largest one (8 significant bits
//     < 11); smaller ones lose bits as fp16 subnormals;
//   - x[r, k] is scaled by a power of two per row (its largest |x| lands in [16, 32)) and
//     rounded to fp16 (11 significant bits, against 8 for bf16 rounding; subnormal past 2^18
//     below the largest);
//   - products are summed in fp16 over runs of kF16Run terms per lane (|run sum| < 32768, below
//     fp16's 65504), and the runs in fp32; the two scales are undone exactly at the end.
// tests/backend/gemm_f16_test.cc holds each output to 2^-8 of Σ_k |x[r, k]·W[c, k]| (what
// rounding x to bf16 may cost; the fp16 runs come near it only where one product dominates a
// run), and the summed squared error of a GEMM to below that of rounding x to bf16 with exact
// fp32 accumulation.
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

// The per-column scales of W (powers of two, the largest |W| of each column times its scale in
// [16, 32)), n values. REQUIRES: GemmF16Available().
std::vector<float> F16ColumnScales(const Bf16Panels& w);

// y[m, n] = x[m, k]·Wᵀ (+ y when accumulate); rows of x and y at strides ld_x >= k and
// ld_y >= n. REQUIRES: GemmF16Available(); col_scale from F16ColumnScales(w); every x finite.
void GemmF16(const Bf16Panels& w, const std::vector<float>& col_scale, const float* x, int ld_x,
             int m, float* y, int ld_y, bool accumulate);

}  // namespace hymba::engine::cpu
