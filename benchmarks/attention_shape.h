// The Hymba-1.5B attention head shape and the AttentionArgs fields the attention benchmarks share.
#pragma once

#include <vector>

#include "engine/cpu/kernels/cpu_kernels.h"

namespace hymba::bench {

// dq = hidden / heads = 1600 / 25, dv = d_inner / heads = 3200 / 25; 128 meta tokens.
constexpr int kHeads = 25, kKvHeads = 5, kDq = 64, kDv = 128, kMeta = 128;

// Arguments for full attention at that shape: queries q [T, heads, dq], outputs out
// [T, heads, dv], the meta tokens' K/V in prefix_k / prefix_v and a K/V ring of `capacity` rows
// per slot (ring_k / ring_v set by the caller). The caller sets k, v and their strides.
inline engine::AttentionArgs HeadShapeArgs(const std::vector<engine::SeqSpan>& seqs, const float* q,
                                           float* out, const float* prefix_k, const float* prefix_v,
                                           int capacity) {
  engine::AttentionArgs a;
  a.seqs = seqs;
  a.q = q;
  a.ld_q = kHeads * kDq;
  a.out = out;
  a.ld_out = kHeads * kDv;
  a.prefix_k = prefix_k;
  a.prefix_v = prefix_v;
  a.prefix_len = kMeta;
  a.capacity = capacity;
  a.window = 0;
  a.num_meta = kMeta;
  a.nh = kHeads;
  a.kvh = kKvHeads;
  a.dq = kDq;
  a.dv = kDv;
  a.scale = 0.125f;  // 1 / sqrt(dq)
  return a;
}

}  // namespace hymba::bench
