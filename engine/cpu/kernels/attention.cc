#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/api/ring_index.h"
#include "engine/base/bf16.h"
#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/fast_math.h"
#include "engine/cpu/kernels/reduce.h"

// GCC 12 flags the deliberately undefined pass-through operands inside the AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

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

// Per-thread scratch: the visible keys' K and V rows for one query row and KV head, and the
// scores of the group's query heads.
struct Scratch {
  // [n_keys]: the cache rows (prefix, ring) first, in bf16 when the cache is bf16 (n_cache of
  // them), then the entry's own fp32 rows.
  std::vector<const void*> k_rows, v_rows;
  int n_cache = 0;
  std::vector<float> widened;  // portable path: bf16 cache rows widened to fp32
  std::vector<float> scores;   // [group, n_keys]
};

bool VectorPath(const AttentionArgs& a);

const void* CacheRow(const void* base, size_t element, bool bf16) {
  return bf16 ? static_cast<const void*>(static_cast<const uint16_t*>(base) + element)
              : static_cast<const void*>(static_cast<const float*>(base) + element);
}

// Collects the visible keys of query row i, in position order, for KV head g.
void GatherKeys(const AttentionArgs& a, const SeqSpan& s, int i, int g, Scratch& sc) {
  const KeyRanges r = VisibleKeys(a, s, i);
  const size_t ring_base = static_cast<size_t>(s.slot) * a.capacity;
  const RingIndex ring{a.capacity, a.num_meta};
  const size_t k_stride = a.kvh * a.dq, v_stride = a.kvh * a.dv;
  const bool bf16 = a.cache_bf16;
  sc.k_rows.clear();
  sc.v_rows.clear();
  for (int k = 0; k < r.prefix_count; ++k) {
    sc.k_rows.push_back(CacheRow(a.prefix_k, k * k_stride + g * a.dq, bf16));
    sc.v_rows.push_back(CacheRow(a.prefix_v, k * v_stride + g * a.dv, bf16));
  }
  for (int p = r.ring_lo; p < r.ring_hi; ++p) {
    const size_t row = ring_base + ring.Row(p);
    sc.k_rows.push_back(CacheRow(a.ring_k, row * k_stride + g * a.dq, bf16));
    sc.v_rows.push_back(CacheRow(a.ring_v, row * v_stride + g * a.dv, bf16));
  }
  sc.n_cache = static_cast<int>(sc.k_rows.size());
  for (int run = 0; run < 2; ++run)
    for (int j = r.own_lo[run]; j < r.own_hi[run]; ++j) {
      sc.k_rows.push_back(a.k + static_cast<size_t>(s.row + j) * a.ld_k + g * a.dq);
      sc.v_rows.push_back(a.v + static_cast<size_t>(s.row + j) * a.ld_v + g * a.dv);
    }
  if (!bf16) {
    sc.n_cache = 0;  // every row is fp32
  } else if (!VectorPath(a)) {
    // The portable kernels read fp32 only: widen the cache rows once per query.
    const int row_len = a.dq + a.dv;
    sc.widened.resize(static_cast<size_t>(sc.n_cache) * row_len);
    for (int t = 0; t < sc.n_cache; ++t) {
      float* dst = sc.widened.data() + static_cast<size_t>(t) * row_len;
      const uint16_t* k = static_cast<const uint16_t*>(sc.k_rows[t]);
      const uint16_t* v = static_cast<const uint16_t*>(sc.v_rows[t]);
      for (int c = 0; c < a.dq; ++c) dst[c] = Bf16BitsToF32(k[c]);
      for (int c = 0; c < a.dv; ++c) dst[a.dq + c] = Bf16BitsToF32(v[c]);
      sc.k_rows[t] = dst;
      sc.v_rows[t] = dst + a.dq;
    }
    sc.n_cache = 0;
  }
}

#if defined(__AVX512F__)
// AVX-512 path for head dims that are multiples of 16 (dq <= 128, dv <= 256): q vectors and
// output rows stay in registers while the keys stream past.
bool VectorPath(const AttentionArgs& a) {
  return a.dq % 16 == 0 && a.dv % 16 == 0 && a.dq <= 128 && a.dv <= 256;
}

// 16 values of a K or V row: bf16 cache rows are widened in registers.
inline __m512 LoadRow(const void* row, int offset, bool bf16) {
  if (bf16) {
    const __m256i raw = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + offset));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(raw), 16));
  }
  return _mm512_loadu_ps(static_cast<const float*>(row) + offset);
}

// Lane sums of 16 vectors: out[i] = Σ lanes of v[i]. Pairs are folded with interleaves inside
// 128-bit blocks, then the blocks are summed across with block shuffles (45 operations where 16
// separate reductions take ~140, and all of them independent).
inline __m512 SumLanes16(const __m512 (&v)[16]) {
  __m512 x[8], y[4];
  for (int i = 0; i < 8; ++i)
    x[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                         _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int j = 0; j < 4; ++j) {
    const __m512d a = _mm512_castps_pd(x[2 * j]), b = _mm512_castps_pd(x[2 * j + 1]);
    y[j] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  const __m512 z0 = _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], 0x44),
                                  _mm512_shuffle_f32x4(y[0], y[1], 0xEE));
  const __m512 z1 = _mm512_add_ps(_mm512_shuffle_f32x4(y[2], y[3], 0x44),
                                  _mm512_shuffle_f32x4(y[2], y[3], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_f32x4(z0, z1, 0x88), _mm512_shuffle_f32x4(z0, z1, 0xDD));
}

// Scores of 16 keys at a time: 16 independent dot products, then one combined lane sum (a dot
// product per key followed by its own reduction is bound by the reduction's latency). The
// remaining keys go one at a time.
void ScoresAvx512(const AttentionArgs& a, const float* q, int group, Scratch& sc, int n_keys) {
  const int qv = a.dq / 16;
  for (int h = 0; h < group; ++h) {
    __m512 qh[8];
    for (int j = 0; j < qv; ++j) qh[j] = _mm512_loadu_ps(q + h * a.dq + 16 * j);
    float* out = sc.scores.data() + static_cast<size_t>(h) * n_keys;
    int t = 0;
    for (; t + 16 <= n_keys; t += 16) {
      __m512 acc[16];
      for (int i = 0; i < 16; ++i) {
        const void* k = sc.k_rows[t + i];
        const bool bf16 = t + i < sc.n_cache;
        acc[i] = _mm512_mul_ps(qh[0], LoadRow(k, 0, bf16));
        for (int j = 1; j < qv; ++j)
          acc[i] = _mm512_fmadd_ps(qh[j], LoadRow(k, 16 * j, bf16), acc[i]);
      }
      _mm512_storeu_ps(out + t, SumLanes16(acc));
    }
    for (; t < n_keys; ++t) {
      const void* k = sc.k_rows[t];
      const bool bf16 = t < sc.n_cache;
      __m512 acc = _mm512_mul_ps(qh[0], LoadRow(k, 0, bf16));
      for (int j = 1; j < qv; ++j) acc = _mm512_fmadd_ps(qh[j], LoadRow(k, 16 * j, bf16), acc);
      out[t] = _mm512_reduce_add_ps(acc);
    }
  }
}

void WeightedSumAvx512(const AttentionArgs& a, int group, Scratch& sc, int n_keys, float* out) {
  const int vv = a.dv / 16;
  for (int h = 0; h < group; ++h) {
    __m512 acc[16];
    for (int j = 0; j < vv; ++j) acc[j] = _mm512_setzero_ps();
    const float* p = sc.scores.data() + static_cast<size_t>(h) * n_keys;
    for (int t = 0; t < n_keys; ++t) {
      const __m512 w = _mm512_set1_ps(p[t]);
      const void* v = sc.v_rows[t];
      const bool bf16 = t < sc.n_cache;
      for (int j = 0; j < vv; ++j) acc[j] = _mm512_fmadd_ps(w, LoadRow(v, 16 * j, bf16), acc[j]);
    }
    for (int j = 0; j < vv; ++j) _mm512_storeu_ps(out + h * a.dv + 16 * j, acc[j]);
  }
}
#else
bool VectorPath(const AttentionArgs&) { return false; }
void ScoresAvx512(const AttentionArgs&, const float*, int, Scratch&, int) {}
void WeightedSumAvx512(const AttentionArgs&, int, Scratch&, int, float*) {}
#endif

// Query row i, KV head g, its query heads [h0, h0 + group): they share every K and V row they
// read (GQA), with a two-pass softmax per head. The path (vector or portable) depends only on
// the head dims, so a model always sums in the same order.
void AttendGroup(const AttentionArgs& a, const SeqSpan& s, int i, int g, int h0, int group,
                 Scratch& sc) {
  GatherKeys(a, s, i, g, sc);
  const int n_keys = static_cast<int>(sc.k_rows.size());
  sc.scores.resize(static_cast<size_t>(group) * n_keys);
  const float* q = a.q + static_cast<size_t>(s.row + i) * a.ld_q + static_cast<size_t>(h0) * a.dq;
  float* out = a.out + static_cast<size_t>(s.row + i) * a.ld_out + static_cast<size_t>(h0) * a.dv;
  const bool vector = VectorPath(a);
  if (vector) {
    ScoresAvx512(a, q, group, sc, n_keys);
  } else {
    for (int t = 0; t < n_keys; ++t)
      for (int h = 0; h < group; ++h)
        sc.scores[static_cast<size_t>(h) * n_keys + t] =
            Dot(q + h * a.dq, static_cast<const float*>(sc.k_rows[t]), a.dq);
  }
  for (int h = 0; h < group; ++h) {
    float* p = sc.scores.data() + static_cast<size_t>(h) * n_keys;
    float mx = -INFINITY;
    for (int t = 0; t < n_keys; ++t) {
      p[t] *= a.scale;
      mx = std::max(mx, p[t]);
    }
#pragma omp simd
    for (int t = 0; t < n_keys; ++t) p[t] = FastExp(p[t] - mx);
    const float inv = 1.0f / Sum(p, n_keys);
    for (int t = 0; t < n_keys; ++t) p[t] *= inv;
  }
  if (vector) {
    WeightedSumAvx512(a, group, sc, n_keys, out);
    return;
  }
  std::fill(out, out + group * a.dv, 0.0f);
  for (int t = 0; t < n_keys; ++t)
    for (int h = 0; h < group; ++h)
      Axpy(sc.scores[static_cast<size_t>(h) * n_keys + t], static_cast<const float*>(sc.v_rows[t]),
           out + h * a.dv, a.dv);
}

}  // namespace

void Attention(const AttentionArgs& a) {
  // Work items: (entry, query row, KV head), flattened so decode batches and long prefills both
  // spread over all threads. When that gives too few items (a decode step of one or two
  // sequences), each query head becomes its own item instead.
  const int group = a.nh / a.kvh;
  std::vector<int> item_begin(a.seqs.size() + 1, 0);
  for (size_t e = 0; e < a.seqs.size(); ++e)
    item_begin[e + 1] = item_begin[e] + a.seqs[e].len * a.kvh;
  const int splits = item_begin.back() < 4 * omp_get_max_threads() ? group : 1;
  const int total = item_begin.back() * splits;
  const int heads = group / splits;
#pragma omp parallel
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (int item = 0; item < total; ++item) {
      const int base = item / splits;
      const size_t e =
          std::upper_bound(item_begin.begin(), item_begin.end(), base) - item_begin.begin() - 1;
      const int local = base - item_begin[e];
      const int g = local % a.kvh;
      const int h0 = g * group + (item % splits) * heads;
      AttendGroup(a, a.seqs[e], local / a.kvh, g, h0, heads, scratch);
    }
  }
}

}  // namespace hymba::engine::cpu
