#include <cmath>
#include <vector>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/parallel.h"

namespace hymba::engine::cpu {

// Rotate-half convention: pairs (j, j + head_dim/2), inv_freq_j = base^(-2j/head_dim). Angles are
// computed in double (HYMBA.md "Precision": fp32 angles drift by radians at long positions).
void Rope(float* x, int ld_x, int rows, int heads, int head_dim, const int32_t* positions,
          double base) {
  const int half = head_dim / 2;
  std::vector<double> inv_freq(half);
  for (int j = 0; j < half; ++j) inv_freq[j] = std::pow(base, -2.0 * j / head_dim);
#pragma omp parallel if (WorthThreads(static_cast<size_t>(rows) * heads * head_dim))
  {
    std::vector<float> cos_v(half), sin_v(half);
#pragma omp for schedule(static)
    for (int r = 0; r < rows; ++r) {
      for (int j = 0; j < half; ++j) {
        const double angle = static_cast<double>(positions[r]) * inv_freq[j];
        cos_v[j] = static_cast<float>(std::cos(angle));
        sin_v[j] = static_cast<float>(std::sin(angle));
      }
      float* row = x + static_cast<size_t>(r) * ld_x;
      for (int h = 0; h < heads; ++h) {
        float* v = row + h * head_dim;
#pragma omp simd
        for (int j = 0; j < half; ++j) {
          const float a = v[j], b = v[j + half];
          v[j] = a * cos_v[j] - b * sin_v[j];
          v[j + half] = b * cos_v[j] + a * sin_v[j];
        }
      }
    }
  }
}

}  // namespace hymba::engine::cpu
