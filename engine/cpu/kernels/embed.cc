#include <cstring>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/parallel.h"

namespace hymba::engine::cpu {

void Embed(const int32_t* ids, int count, const void* table, bool table_bf16, int cols, float* out,
           int ld_out) {
#pragma omp parallel for schedule(static) if (WorthThreads(static_cast<size_t>(count) * cols))
  for (int i = 0; i < count; ++i) {
    float* dst = out + static_cast<size_t>(i) * ld_out;
    const size_t offset = static_cast<size_t>(ids[i]) * cols;
    if (table_bf16) {
      const uint16_t* src = static_cast<const uint16_t*>(table) + offset;
      uint32_t* d = reinterpret_cast<uint32_t*>(dst);
      for (int c = 0; c < cols; ++c) d[c] = static_cast<uint32_t>(src[c]) << 16;
    } else {
      std::memcpy(dst, static_cast<const float*>(table) + offset, cols * sizeof(float));
    }
  }
}

}  // namespace hymba::engine::cpu
