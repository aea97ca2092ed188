#include <cstddef>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/parallel.h"

namespace hymba::engine::cpu {

void AddBias(float* x, int ld, int rows, int cols, const float* bias) {
#pragma omp parallel for schedule(static) if (WorthThreads(static_cast<size_t>(rows) * cols))
  for (int r = 0; r < rows; ++r) {
    float* row = x + static_cast<size_t>(r) * ld;
#pragma omp simd
    for (int c = 0; c < cols; ++c) row[c] += bias[c];
  }
}

}  // namespace hymba::engine::cpu
