#include <cstddef>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/parallel.h"
#include "engine/cpu/kernels/fast_math.h"

namespace hymba::engine::cpu {

void GatedActivation(float* a, int ld_a, const float* b, int ld_b, int rows, int cols, bool relu2) {
#pragma omp parallel for schedule(static) if (WorthThreads(static_cast<size_t>(rows) * cols))
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

}  // namespace hymba::engine::cpu
