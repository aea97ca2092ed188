#include <cmath>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/parallel.h"
#include "engine/cpu/kernels/reduce.h"

namespace hymba::engine::cpu {

void RmsNorm(const float* x, int ld_x, int rows, int cols, const float* w, float eps, float* y,
             int ld_y) {
#pragma omp parallel for schedule(static) if (WorthThreads(static_cast<size_t>(rows) * cols))
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<size_t>(r) * ld_x;
    float* yr = y + static_cast<size_t>(r) * ld_y;
    const float sum = SumSquares(xr, cols);
    const float inv = 1.0f / std::sqrt(sum / static_cast<float>(cols) + eps);
#pragma omp simd
    for (int c = 0; c < cols; ++c) yr[c] = w[c] * (xr[c] * inv);
  }
}

}  // namespace hymba::engine::cpu
