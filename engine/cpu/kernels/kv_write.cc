#include <algorithm>
#include <cstring>

#include "engine/api/ring_index.h"
#include "engine/base/bf16.h"
#include "engine/cpu/kernels/cpu_kernels.h"

namespace hymba::engine::cpu {

void KvWrite(const KvWriteArgs& a) {
  for (const SeqSpan& s : a.seqs) {
    // Only the last `capacity` rows can ever be read again.
    const RingIndex ring{a.capacity, a.ring_base};
    const int first = std::max(0, s.len - a.capacity);
    for (int i = first; i < s.len; ++i) {
      const int pos = s.start_pos + i;
      const size_t row = static_cast<size_t>(s.slot) * a.capacity + ring.Row(pos);
      const float* k = a.k + static_cast<size_t>(s.row + i) * a.ld_k;
      const float* v = a.v + static_cast<size_t>(s.row + i) * a.ld_v;
      if (a.cache_bf16) {
        uint16_t* rk = static_cast<uint16_t*>(a.ring_k) + row * a.k_width;
        uint16_t* rv = static_cast<uint16_t*>(a.ring_v) + row * a.v_width;
        for (int c = 0; c < a.k_width; ++c) rk[c] = F32ToBf16Bits(k[c]);
        for (int c = 0; c < a.v_width; ++c) rv[c] = F32ToBf16Bits(v[c]);
      } else {
        std::memcpy(static_cast<float*>(a.ring_k) + row * a.k_width, k, a.k_width * sizeof(float));
        std::memcpy(static_cast<float*>(a.ring_v) + row * a.v_width, v, a.v_width * sizeof(float));
      }
    }
  }
}

}  // namespace hymba::engine::cpu
