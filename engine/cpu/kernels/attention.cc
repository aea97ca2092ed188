#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/api/ring_index.h"
#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/fast_math.h"
#include "engine/cpu/kernels/reduce.h"

namespace hymba::engine::cpu {
namespace {

inline void Axpy(float w, const float* x, float* y, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) y[i] += w * x[i];
}

// Where one query's visible keys live: the shared prefix, a run of ring rows, and two runs of
// the entry's own rows (meta positions, always visible; then the causal window). Positions are
// absolute; own runs are relative to the entry's first row.
struct KeyRanges {
  int prefix_count;      // prefix keys [0, prefix_count)
  int ring_lo, ring_hi;  // ring positions [ring_lo, ring_hi)
  int own_lo[2], own_hi[2];
};

KeyRanges VisibleKeys(const AttentionArgs& a, const SeqSpan& s, int i) {
  const int q = s.start_pos + i;
  // Keys below num_meta are always visible; later ones need q - k <= window when windowed.
  int lo = a.num_meta;
  if (a.window > 0) lo = std::max(lo, q - a.window);
  KeyRanges r;
  r.prefix_count = std::min(a.prefix_len, q + 1);
  r.ring_lo = std::max(lo, a.prefix_len);
  r.ring_hi = std::max(r.ring_lo, s.start_pos);
  r.own_lo[0] = 0;
  r.own_hi[0] = std::max(0, std::min(q + 1, a.num_meta) - s.start_pos);
  r.own_lo[1] = std::max(lo, s.start_pos) - s.start_pos;
  r.own_hi[1] = std::max(r.own_lo[1], i + 1);
  return r;
}

// One (query row, head): a two-pass softmax over the visible keys.
void AttendOne(const AttentionArgs& a, const SeqSpan& s, int i, int h, std::vector<float>& scores) {
  const int group = a.nh / a.kvh;
  const int g = h / group;
  const KeyRanges r = VisibleKeys(a, s, i);
  const float* qv = a.q + static_cast<size_t>(s.row + i) * a.ld_q + h * a.dq;
  const size_t ring_base = static_cast<size_t>(s.slot) * a.capacity;
  const RingIndex ring{a.capacity, a.num_meta};
  const int k_stride = a.kvh * a.dq, v_stride = a.kvh * a.dv;
  const int n_keys = r.prefix_count + (r.ring_hi - r.ring_lo) + (r.own_hi[0] - r.own_lo[0]) +
                     (r.own_hi[1] - r.own_lo[1]);
  scores.resize(n_keys);
  int n = 0;
  for (int k = 0; k < r.prefix_count; ++k)
    scores[n++] = Dot(qv, a.prefix_k + static_cast<size_t>(k) * k_stride + g * a.dq, a.dq);
  for (int p = r.ring_lo; p < r.ring_hi; ++p) {
    const size_t row = ring_base + ring.Row(p);
    scores[n++] = Dot(qv, a.ring_k + row * k_stride + g * a.dq, a.dq);
  }
  for (int run = 0; run < 2; ++run)
    for (int j = r.own_lo[run]; j < r.own_hi[run]; ++j)
      scores[n++] = Dot(qv, a.k + static_cast<size_t>(s.row + j) * a.ld_k + g * a.dq, a.dq);
  float mx = -INFINITY;
  for (int t = 0; t < n_keys; ++t) {
    scores[t] *= a.scale;
    mx = std::max(mx, scores[t]);
  }
#pragma omp simd
  for (int t = 0; t < n_keys; ++t) scores[t] = FastExp(scores[t] - mx);
  const float inv = 1.0f / Sum(scores.data(), n_keys);
  float* out = a.out + static_cast<size_t>(s.row + i) * a.ld_out + h * a.dv;
  std::fill(out, out + a.dv, 0.0f);
  n = 0;
  for (int k = 0; k < r.prefix_count; ++k)
    Axpy(scores[n++] * inv, a.prefix_v + static_cast<size_t>(k) * v_stride + g * a.dv, out, a.dv);
  for (int p = r.ring_lo; p < r.ring_hi; ++p) {
    const size_t row = ring_base + ring.Row(p);
    Axpy(scores[n++] * inv, a.ring_v + row * v_stride + g * a.dv, out, a.dv);
  }
  for (int run = 0; run < 2; ++run)
    for (int j = r.own_lo[run]; j < r.own_hi[run]; ++j)
      Axpy(scores[n++] * inv, a.v + static_cast<size_t>(s.row + j) * a.ld_v + g * a.dv, out,
           a.dv);
}

}  // namespace

void Attention(const AttentionArgs& a) {
  // Work items: (entry, query row, head), flattened so decode batches and long prefills both
  // spread over all threads.
  std::vector<int> item_begin(a.seqs.size() + 1, 0);
  for (size_t e = 0; e < a.seqs.size(); ++e)
    item_begin[e + 1] = item_begin[e] + a.seqs[e].len * a.nh;
  const int total = item_begin.back();
#pragma omp parallel
  {
    std::vector<float> scores;
#pragma omp for schedule(dynamic, 8)
    for (int item = 0; item < total; ++item) {
      const size_t e =
          std::upper_bound(item_begin.begin(), item_begin.end(), item) - item_begin.begin() - 1;
      const int local = item - item_begin[e];
      AttendOne(a, a.seqs[e], local / a.nh, local % a.nh, scores);
    }
  }
}

}  // namespace hymba::engine::cpu
