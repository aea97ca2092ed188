// RingIndex: where a position's K/V lives in a slot's ring. Positions below `base` (the meta
// tokens) live in the shared prefix, never in a ring; position p >= base lives at row
// (p - base) % capacity. A SWA ring has capacity W and wraps; a full-attention ring has capacity
// max_seq_len and never wraps. The kernels of every backend use this one definition.
//
// Thread safety: plain value.
#pragma once

namespace hymba::engine {

struct RingIndex {
  int capacity = 1;
  int base = 0;

  // REQUIRES: pos >= base.
  int Row(int pos) const { return (pos - base) % capacity; }
  // Oldest position still held after positions [base, end) were written.
  int OldestHeld(int end) const { return end - base > capacity ? end - capacity : base; }
};

}  // namespace hymba::engine
