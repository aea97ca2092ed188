#include <cstddef>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/parallel.h"
#include "engine/cpu/kernels/fast_math.h"

namespace hymba::engine::cpu {

void BiasSoftplus(float* dt, int ld, int rows, int cols, const float* bias) {
#pragma omp parallel for schedule(static) if (WorthThreads(static_cast<size_t>(rows) * cols))
  for (int r = 0; r < rows; ++r) {
    float* row = dt + static_cast<size_t>(r) * ld;
#pragma omp simd
    for (int c = 0; c < cols; ++c) row[c] = FastSoftplus(row[c] + bias[c]);
  }
}

}  // namespace hymba::engine::cpu
