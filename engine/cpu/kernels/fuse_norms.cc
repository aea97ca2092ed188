#include <cmath>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/parallel.h"
#include "engine/cpu/kernels/reduce.h"

namespace hymba::engine::cpu {

void FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y, const float* wy,
               int rows, int cols, float eps, float* out, int ld_out) {
#pragma omp parallel for schedule(static) if (WorthThreads(static_cast<size_t>(rows) * cols))
  for (int r = 0; r < rows; ++r) {
    const float* ar = a + static_cast<size_t>(r) * ld_a;
    const float* yr = y + static_cast<size_t>(r) * ld_y;
    float* o = out + static_cast<size_t>(r) * ld_out;
    const float sa = SumSquares(ar, cols), sy = SumSquares(yr, cols);
    const float ia = 0.5f / std::sqrt(sa / cols + eps);
    const float iy = 0.5f / std::sqrt(sy / cols + eps);
#pragma omp simd
    for (int c = 0; c < cols; ++c) o[c] = wa[c] * (ar[c] * ia) + wy[c] * (yr[c] * iy);
  }
}

}  // namespace hymba::engine::cpu
