#include <cstring>

#include "engine/cpu/kernels/cpu_kernels.h"

namespace hymba::engine::cpu {

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
