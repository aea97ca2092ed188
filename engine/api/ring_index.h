// RingIndex: where a position's K/V lives in a slot's ring. Positions below `base` (the meta
// tokens) live in the shared prefix, never in a ring; position p >= base lives at row
// (p - base) % capacity. A SWA ring has capacity W and wraps; a full-attention ring has capacity
// max_seq_len and never wraps. The kernels of every backend use this one definition.
//
// Thread safety: plain value.
#pragma once

// CUDA kernels call these too.
#if defined(__CUDACC__)
#define HY_HOST_DEVICE __host__ __device__
#else
#define HY_HOST_DEVICE
#endif

namespace hymba::engine {

struct RingIndex {
  int capacity = 1;
  int base = 0;

  // REQUIRES: pos >= base.
  HY_HOST_DEVICE int Row(int pos) const { return (pos - base) % capacity; }
  // Oldest position still held after positions [base, end) were written.
  HY_HOST_DEVICE int OldestHeld(int end) const {
    return end - base > capacity ? end - capacity : base;
  }
};

}  // namespace hymba::engine
