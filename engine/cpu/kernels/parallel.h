// When a kernel's loop is worth the OpenMP pool.
//
// Waking the pool costs a few microseconds while its workers spin and ~100 µs once they sleep
// (OMP_WAIT_POLICY=PASSIVE, as hymba-server runs, measured on a 2-vCPU VM: a batch-1 decode step
// of the 1.5B shape opened ~600 parallel regions and took 184 ms instead of 122 ms). Elementwise
// loops and per-token recurrences smaller than kParallelMinWork elements run on the calling
// thread: they take microseconds, so only the GEMMs, attention and long prompts wake the pool.
#pragma once

#include <cstddef>

#include "absl/types/span.h"
#include "engine/api/backend_ops.h"

namespace hymba::engine::cpu {

constexpr size_t kParallelMinWork = size_t{1} << 16;

inline bool WorthThreads(size_t work) { return work >= kParallelMinWork; }

// Tokens fed in one step over all entries.
inline size_t TotalTokens(absl::Span<const SeqSpan> seqs) {
  size_t tokens = 0;
  for (const SeqSpan& s : seqs) tokens += static_cast<size_t>(s.len);
  return tokens;
}

}  // namespace hymba::engine::cpu
