#include <algorithm>
#include <cstring>

#include "engine/api/ring_index.h"
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
      std::memcpy(a.ring_k + row * a.k_width, a.k + static_cast<size_t>(s.row + i) * a.ld_k,
                  a.k_width * sizeof(float));
      std::memcpy(a.ring_v + row * a.v_width, a.v + static_cast<size_t>(s.row + i) * a.ld_v,
                  a.v_width * sizeof(float));
    }
  }
}

}  // namespace hymba::engine::cpu
