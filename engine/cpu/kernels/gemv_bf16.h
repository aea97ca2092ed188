// Small-batch y = x·Wᵀ for bf16 weights in column panels (bf16_panels.h): each weight is read
// exactly once, widened to fp32 in registers and applied with FMAs to up to kGemvMaxRows fp32
// activation rows (fp32 accumulation, activations never rounded). One row is bound by memory
// bandwidth; several rows share each weight load.
//
// Thread safety: reentrant; runs on the OpenMP pool.
#pragma once

#include "engine/cpu/kernels/bf16_panels.h"

namespace hymba::engine::cpu {

constexpr int kGemvMaxRows = 16;

// True when the CPU runs AVX-512 F and BW (this file's kernels, and the panel widening, are
// compiled for them whatever the build's -march says).
bool GemvBf16Available();

// y[r, j] (+)= Σ_c x[r, c]·w[j, c] for r < m, j < n.
// REQUIRES: GemvBf16Available(), 1 <= m <= kGemvMaxRows.
void GemvBf16(const Bf16Panels& w, const float* x, int ld_x, int m, float* y, int ld_y,
              bool accumulate);

}  // namespace hymba::engine::cpu
