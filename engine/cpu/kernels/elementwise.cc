#include <cmath>
#include <cstring>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/fast_math.h"
#include "engine/cpu/kernels/reduce.h"

namespace hymba::engine::cpu {

void BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    float* row = dt + static_cast<size_t>(r) * ld;
#pragma omp simd
    for (int c = 0; c < cols; ++c) row[c] = FastSoftplus(row[c] + bias[c]);
  }
}

void GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols, bool relu2) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    float* ar = a + static_cast<size_t>(r) * ld_a;
    if (relu2) {
#pragma omp simd
      for (int c = 0; c < cols; ++c) {
        const float v = ar[c] > 0.0f ? ar[c] : 0.0f;
        ar[c] = v * v;
      }
    } else {
      const float* br = b + static_cast<size_t>(r) * ld_b;
#pragma omp simd
      for (int c = 0; c < cols; ++c) ar[c] = FastSilu(ar[c]) * br[c];
    }
  }
}

void FuseNorms(const float* a, int ld_a, const float* wa, const float* y, int ld_y, const float* wy,
               int rows, int cols, float eps, float* out, int ld_out) {
#pragma omp parallel for schedule(static)
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

void AddBias(float* x, int ld, int rows, int cols, const float* bias) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    float* row = x + static_cast<size_t>(r) * ld;
#pragma omp simd
    for (int c = 0; c < cols; ++c) row[c] += bias[c];
  }
}

void CopyMatrix(const float* src, int ld_src, int rows, int cols, float* dst, int ld_dst) {
#pragma omp parallel for schedule(static) if (rows > 64)
  for (int r = 0; r < rows; ++r)
    std::memcpy(dst + static_cast<size_t>(r) * ld_dst, src + static_cast<size_t>(r) * ld_src,
                cols * sizeof(float));
}

void GatherRows(const float* src, int ld_src, const int32_t* rows, int count, int cols, float* dst,
                int ld_dst) {
  for (int i = 0; i < count; ++i) {
    std::memcpy(dst + static_cast<size_t>(i) * ld_dst, src + static_cast<size_t>(rows[i]) * ld_src,
                cols * sizeof(float));
  }
}

}  // namespace hymba::engine::cpu
