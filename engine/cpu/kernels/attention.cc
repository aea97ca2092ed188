#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/api/ring_index.h"
#include "engine/base/bf16.h"
#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/fast_math.h"
#include "engine/cpu/kernels/parallel.h"
#include "engine/cpu/kernels/reduce.h"
#include "engine/cpu/kernels/transpose16.h"

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

// Keys per chunk. A query's visible keys, in position order, are cut into chunks of kKeyChunk at
// fixed key indices; each chunk yields a partial softmax per head (max, sum, unnormalized V sum)
// and the partials are merged in chunk order. The arithmetic thus depends only on the query, not
// on which thread ran a chunk or what else was in the batch.
constexpr int kKeyChunk = 256;

// Prefill rows attended together: rows with the same key positions share each key block's
// transposed K and widened V (a block of 16 keys is read once for up to 8 queries of each head).
constexpr int kRowBlock = 8;

// Per-thread scratch: one chunk's K and V rows (all KV heads; prefix and ring rows first, in bf16
// when the cache is bf16 — n_cache of them — then the entry's own fp32 rows), and every head's
// scores over them.
struct Scratch {
  std::vector<const void*> k_rows, v_rows;
  int n_cache = 0;
  std::vector<float> widened;            // portable path: bf16 cache rows widened to fp32
  std::vector<float> scores;             // [rows, nh, keys of the chunk rounded up to 16]
  std::vector<const float*> query_ptrs;  // vector path: the queries scored together
  std::vector<float*> score_ptrs;        // ... and where their scores go
};

// A chunk's partial softmax for one head: max score m, Σ exp(s − m), and the unnormalized
// Σ exp(s − m)·V (dv values).
constexpr int kPartialExtra = 2;
int PartialSize(const AttentionArgs& a) { return a.nh * (a.dv + kPartialExtra); }

// Query rows of one entry that attend one chunk of the same key positions (Scratch::k_rows):
// row r sees the chunk's first n[r] keys (n ascending, n[0] >= 1), with query q[r] (nh·dq
// values) and its partial (PartialSize values) for this chunk. Only the query heads of KV heads
// [g0, g1) are computed: each KV head's group is independent, so a decode chunk can be split.
struct ChunkRows {
  int count = 0;
  int g0 = 0, g1 = 0;
  const float* q[kRowBlock];
  int n[kRowBlock];
  float* partial[kRowBlock];
};

bool VectorPath(const AttentionArgs& a);

const void* CacheRow(const void* base, size_t element, bool bf16) {
  return bf16 ? static_cast<const void*>(static_cast<const uint16_t*>(base) + element)
              : static_cast<const void*>(static_cast<const float*>(base) + element);
}

int CountKeys(const KeyRanges& r) {
  return r.prefix_count + (r.ring_hi - r.ring_lo) + (r.own_hi[0] - r.own_lo[0]) +
         (r.own_hi[1] - r.own_lo[1]);
}

// Collects keys [lo, hi) of query row i's visible keys (in position order): the row starts, all
// KV heads.
void GatherKeyRange(const AttentionArgs& a, const SeqSpan& s, const KeyRanges& r, int lo, int hi,
                    Scratch& sc) {
  const size_t ring_base = static_cast<size_t>(s.slot) * a.capacity;
  const RingIndex ring{a.capacity, a.num_meta};
  const size_t k_stride = static_cast<size_t>(a.kvh) * a.dq,
               v_stride = static_cast<size_t>(a.kvh) * a.dv;
  const bool bf16 = a.cache_bf16;
  sc.k_rows.clear();
  sc.v_rows.clear();
  int index = 0;  // key index of the segment's first key
  // Segment [from, to) of the key list maps to positions via row_of.
  auto segment = [&](int count, auto&& add) {
    const int from = std::max(lo, index), to = std::min(hi, index + count);
    for (int t = from; t < to; ++t) add(t - index);
    index += count;
  };
  segment(r.prefix_count, [&](int k) {
    sc.k_rows.push_back(CacheRow(a.prefix_k, k * k_stride, bf16));
    sc.v_rows.push_back(CacheRow(a.prefix_v, k * v_stride, bf16));
  });
  segment(r.ring_hi - r.ring_lo, [&](int k) {
    const size_t row = ring_base + ring.Row(r.ring_lo + k);
    sc.k_rows.push_back(CacheRow(a.ring_k, row * k_stride, bf16));
    sc.v_rows.push_back(CacheRow(a.ring_v, row * v_stride, bf16));
  });
  sc.n_cache = static_cast<int>(sc.k_rows.size());
  for (int run = 0; run < 2; ++run)
    segment(r.own_hi[run] - r.own_lo[run], [&](int k) {
      const size_t row = static_cast<size_t>(s.row + r.own_lo[run] + k);
      sc.k_rows.push_back(a.k + row * a.ld_k);
      sc.v_rows.push_back(a.v + row * a.ld_v);
    });
  if (!bf16) {
    sc.n_cache = 0;  // every row is fp32
  } else if (!VectorPath(a)) {
    // The portable kernels read fp32 only: widen the cache rows once per chunk.
    const size_t row_len = k_stride + v_stride;
    sc.widened.resize(static_cast<size_t>(sc.n_cache) * row_len);
    for (int t = 0; t < sc.n_cache; ++t) {
      float* dst = sc.widened.data() + static_cast<size_t>(t) * row_len;
      const uint16_t* k = static_cast<const uint16_t*>(sc.k_rows[t]);
      const uint16_t* v = static_cast<const uint16_t*>(sc.v_rows[t]);
      for (size_t c = 0; c < k_stride; ++c) dst[c] = Bf16BitsToF32(k[c]);
      for (size_t c = 0; c < v_stride; ++c) dst[k_stride + c] = Bf16BitsToF32(v[c]);
      sc.k_rows[t] = dst;
      sc.v_rows[t] = dst + k_stride;
    }
    sc.n_cache = 0;
  }
}

#if defined(__AVX512F__)
// AVX-512 path for head dims that are multiples of 16 (dq <= 128, dv <= 256).
constexpr int kMaxDq = 128, kMaxDv = 256;
bool VectorPath(const AttentionArgs& a) {
  return a.dq % 16 == 0 && a.dv % 16 == 0 && a.dq <= kMaxDq && a.dv <= kMaxDv;
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

// How many 16-key blocks ahead the K and V rows are prefetched. A ring row holds every KV head,
// and each head reads only its part of 16 rows at a time (benchmarks/attention_decode, K/V from
// DRAM, 4K context: ~1430 µs per layer without the prefetch, ~1000 with it).
constexpr int kPrefetchBlocks = 2;

// Prefetches values [first, first + values) of the K or V rows of keys [from, to) (the KV heads
// being worked on), in address order.
inline void PrefetchRows(const std::vector<const void*>& rows, int from, int to, int n_cache,
                         int first, int values) {
  for (int t = from; t < to; ++t) {
    const int size = t < n_cache ? 2 : 4;
    const char* row = static_cast<const char*>(rows[t]) + first * size;
    for (int offset = 0; offset < values * size; offset += 64)
      _mm_prefetch(row + offset, _MM_HINT_T0);
  }
}

// kt[d·16 + i] = K_{t0+i}[offset + d] for d < dq, i < 16 (zero past `count` keys): a key block
// of one KV head transposed, so that a query's 16 scores are dq FMAs of broadcast q values.
void TransposeKeys(const Scratch& sc, int t0, int count, int offset, int dq, float* kt) {
  for (int j = 0; j < dq / 16; ++j) {
    __m512i r[16], o[16];
    for (int i = 0; i < 16; ++i)
      r[i] = i < count ? _mm512_castps_si512(
                             LoadRow(sc.k_rows[t0 + i], offset + 16 * j, t0 + i < sc.n_cache))
                       : _mm512_setzero_si512();
    Transpose16x16(r, o);
    for (int c = 0; c < 16; ++c) _mm512_store_si512(kt + (16 * j + c) * 16, o[c]);
  }
}

// vf[i·dv + d] = V_{t0+i}[offset + d] for i < count: a value block of one KV head in fp32.
void WidenValues(const Scratch& sc, int t0, int count, int offset, int dv, float* vf) {
  for (int i = 0; i < count; ++i)
    for (int j = 0; j < dv / 16; ++j)
      _mm512_store_ps(vf + i * dv + 16 * j,
                      LoadRow(sc.v_rows[t0 + i], offset + 16 * j, t0 + i < sc.n_cache));
}

// C queries' scores against a transposed key block: out[c][0..15] = Σ_d q[c][d]·kt[d], one FMA
// chain per query (C chains keep the FMA units busy); the same operations whatever C is.
template <int C>
inline void ScoreBatch(const float* kt, int dq, const float* const* q, float* const* out) {
  __m512 acc[C];
  const __m512 k0 = _mm512_load_ps(kt);
  for (int c = 0; c < C; ++c) acc[c] = _mm512_mul_ps(_mm512_set1_ps(q[c][0]), k0);
  for (int d = 1; d < dq; ++d) {
    const __m512 k = _mm512_load_ps(kt + 16 * d);
    for (int c = 0; c < C; ++c) acc[c] = _mm512_fmadd_ps(_mm512_set1_ps(q[c][d]), k, acc[c]);
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(out[c], acc[c]);
}

void ScoreQueries(const float* kt, int dq, const float* const* q, float* const* out, int count) {
  int c = 0;
  for (; c + 8 <= count; c += 8) ScoreBatch<8>(kt, dq, q + c, out + c);
  if (count - c >= 4) {
    ScoreBatch<4>(kt, dq, q + c, out + c);
    c += 4;
  }
  if (count - c >= 2) {
    ScoreBatch<2>(kt, dq, q + c, out + c);
    c += 2;
  }
  if (count - c == 1) ScoreBatch<1>(kt, dq, q + c, out + c);
}

// For each of P (row, head) pairs: o[i][0, dv) += Σ_{t in [t0, t1)} p[i][t]·vf[(t − t0)·dv …].
// Even and odd keys go to separate accumulators (one set alone is a chain of dependent FMAs),
// added at the end; the pairs share the loads of vf. Each pair's arithmetic is the same
// whatever P is.
// VV = dv / 16 when it is a compile-time constant (the accumulators then stay in registers),
// 0 for any dv up to kMaxDv.
template <int P, int VV>
inline void WeightedRows(const float* const* p, int t0, int t1, const float* vf, int dv,
                         float* const* o) {
  constexpr int kMaxVv = VV > 0 ? VV : kMaxDv / 16;
  const int vv = VV > 0 ? VV : dv / 16;
  __m512 acc[P][kMaxVv], odd[P][kMaxVv];
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < vv; ++j) {
      acc[i][j] = _mm512_loadu_ps(o[i] + 16 * j);
      odd[i][j] = _mm512_setzero_ps();
    }
  int t = t0;
  for (; t + 2 <= t1; t += 2) {
    const float* v0 = vf + (t - t0) * dv;
    for (int j = 0; j < vv; ++j) {
      const __m512 even_v = _mm512_load_ps(v0 + 16 * j), odd_v = _mm512_load_ps(v0 + dv + 16 * j);
      for (int i = 0; i < P; ++i) {
        acc[i][j] = _mm512_fmadd_ps(_mm512_set1_ps(p[i][t]), even_v, acc[i][j]);
        odd[i][j] = _mm512_fmadd_ps(_mm512_set1_ps(p[i][t + 1]), odd_v, odd[i][j]);
      }
    }
  }
  if (t < t1) {
    for (int j = 0; j < vv; ++j) {
      const __m512 v = _mm512_load_ps(vf + (t - t0) * dv + 16 * j);
      for (int i = 0; i < P; ++i)
        acc[i][j] = _mm512_fmadd_ps(_mm512_set1_ps(p[i][t]), v, acc[i][j]);
    }
  }
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < vv; ++j)
      _mm512_storeu_ps(o[i] + 16 * j, _mm512_add_ps(acc[i][j], odd[i][j]));
}

// WeightedRows for P pairs with the vector count fixed up to 8 (dv <= 128: the accumulators
// stay in registers; the Hymba-1.5B shape has dv = 128). P = 2 only for dv <= 64.
template <int P>
void WeightedRowsAnyDv(const float* const* p, int t0, int t1, const float* vf, int dv,
                       float* const* o) {
  switch (dv / 16) {
    case 1:
      return WeightedRows<P, 1>(p, t0, t1, vf, dv, o);
    case 2:
      return WeightedRows<P, 2>(p, t0, t1, vf, dv, o);
    case 3:
      return WeightedRows<P, 3>(p, t0, t1, vf, dv, o);
    case 4:
      return WeightedRows<P, 4>(p, t0, t1, vf, dv, o);
    case 5:
      return WeightedRows<1, 5>(p, t0, t1, vf, dv, o);
    case 6:
      return WeightedRows<1, 6>(p, t0, t1, vf, dv, o);
    case 7:
      return WeightedRows<1, 7>(p, t0, t1, vf, dv, o);
    case 8:
      return WeightedRows<1, 8>(p, t0, t1, vf, dv, o);
    default:
      return WeightedRows<1, 0>(p, t0, t1, vf, dv, o);
  }
}

// Every head's scores of every row of the block, 16 keys at a time: each KV head's key block is
// transposed once and read by all its query heads of all rows.
void ScoresAvx512(const AttentionArgs& a, const ChunkRows& rows, Scratch& sc, int n, int n16) {
  alignas(64) float kt[kMaxDq * 16];
  const int group = a.nh / a.kvh, first = rows.g0 * a.dq, values = (rows.g1 - rows.g0) * a.dq;
  const int pairs = group * rows.count;
  std::vector<const float*>& qs = sc.query_ptrs;
  std::vector<float*>& outs = sc.score_ptrs;
  qs.resize(pairs);
  outs.resize(pairs);
  PrefetchRows(sc.k_rows, 0, std::min(n, kPrefetchBlocks * 16), sc.n_cache, first, values);
  for (int t0 = 0; t0 < n; t0 += 16) {
    PrefetchRows(sc.k_rows, std::min(n, t0 + kPrefetchBlocks * 16),
                 std::min(n, t0 + (kPrefetchBlocks + 1) * 16), sc.n_cache, first, values);
    for (int g = rows.g0; g < rows.g1; ++g) {
      TransposeKeys(sc, t0, std::min(16, n - t0), g * a.dq, a.dq, kt);
      for (int hh = 0; hh < group; ++hh)
        for (int r = 0; r < rows.count; ++r) {
          const int h = g * group + hh;
          qs[hh * rows.count + r] = rows.q[r] + h * a.dq;
          outs[hh * rows.count + r] =
              sc.scores.data() + (static_cast<size_t>(r) * a.nh + h) * n16 + t0;
        }
      ScoreQueries(kt, a.dq, qs.data(), outs.data(), pairs);
    }
  }
}

// Every row's and head's unnormalized Σ p·V into its partial, 16 keys at a time: each KV head's
// value block is widened once and read by all its query heads of all rows.
void WeightedSumAvx512(const AttentionArgs& a, const ChunkRows& rows, const Scratch& sc, int n,
                       int n16) {
  alignas(64) float vf[16 * kMaxDv];
  const int group = a.nh / a.kvh, stride = a.dv + kPartialExtra;
  const int first = rows.g0 * a.dv, values = (rows.g1 - rows.g0) * a.dv;
  for (int r = 0; r < rows.count; ++r)
    for (int h = rows.g0 * group; h < rows.g1 * group; ++h)
      std::fill_n(rows.partial[r] + h * stride + kPartialExtra, a.dv, 0.0f);
  PrefetchRows(sc.v_rows, 0, std::min(n, kPrefetchBlocks * 16), sc.n_cache, first, values);
  for (int t0 = 0; t0 < n; t0 += 16) {
    PrefetchRows(sc.v_rows, std::min(n, t0 + kPrefetchBlocks * 16),
                 std::min(n, t0 + (kPrefetchBlocks + 1) * 16), sc.n_cache, first, values);
    for (int g = rows.g0; g < rows.g1; ++g) {
      WidenValues(sc, t0, std::min(16, n - t0), g * a.dv, a.dv, vf);
      for (int h = g * group; h < (g + 1) * group; ++h) {
        // Rows whose keys reach past this block come in pairs where the registers allow.
        int r = 0;
        while (r < rows.count && rows.n[r] <= t0) ++r;
        for (; r < rows.count;) {
          const float* p[2];
          float* o[2];
          int t1[2];
          for (int i = 0; i < 2 && r + i < rows.count; ++i) {
            p[i] = sc.scores.data() + (static_cast<size_t>(r + i) * a.nh + h) * n16;
            o[i] = rows.partial[r + i] + h * stride + kPartialExtra;
            t1[i] = std::min(rows.n[r + i], t0 + 16);
          }
          if (a.dv <= 64 && r + 1 < rows.count && t1[0] == t1[1]) {
            WeightedRowsAnyDv<2>(p, t0, t1[0], vf, a.dv, o);
            r += 2;
          } else {
            WeightedRowsAnyDv<1>(p, t0, t1[0], vf, a.dv, o);
            r += 1;
          }
        }
      }
    }
  }
}
#else
bool VectorPath(const AttentionArgs&) { return false; }
void ScoresAvx512(const AttentionArgs&, const ChunkRows&, Scratch&, int, int) {}
void WeightedSumAvx512(const AttentionArgs&, const ChunkRows&, const Scratch&, int, int) {}
#endif

// p[t] *= scale for t < n; returns the largest. A maximum is exact in any order, so the lanes
// may split it (GCC kept the plain loop scalar, where perf put 2/3 of the attention code's own
// samples).
inline float ScaleAndMax(float* p, int n, float scale) {
#if defined(__AVX512F__)
  const __m512 s = _mm512_set1_ps(scale);
  __m512 m = _mm512_set1_ps(-INFINITY);
  int t = 0;
  for (; t + 16 <= n; t += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(p + t), s);
    _mm512_storeu_ps(p + t, v);
    m = _mm512_max_ps(m, v);
  }
  if (t < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - t)) - 1u);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, p + t), s);
    _mm512_mask_storeu_ps(p + t, mask, v);
    m = _mm512_mask_max_ps(m, mask, m, v);
  }
  return _mm512_reduce_max_ps(m);
#else
  float mx = -INFINITY;
  for (int t = 0; t < n; ++t) {
    p[t] *= scale;
    mx = std::max(mx, p[t]);
  }
  return mx;
#endif
}

// One chunk for a block of query rows (see ChunkRows): per row and head, partial = {m, l, o[dv]}.
// The arithmetic for a row does not depend on the other rows of the block, and the path (vector
// or portable) depends only on the head dims, so a model always sums a query's keys the same way.
void AttendChunk(const AttentionArgs& a, const ChunkRows& rows, Scratch& sc) {
  const int n = rows.n[rows.count - 1];
  const int n16 = (n + 15) / 16 * 16;
  const int group = a.nh / a.kvh;
  const int h0 = rows.g0 * group, h1 = rows.g1 * group;
  const int stride = a.dv + kPartialExtra;
  const bool vector = VectorPath(a);
  sc.scores.resize(static_cast<size_t>(rows.count) * a.nh * n16);
  if (vector) {
    ScoresAvx512(a, rows, sc, n, n16);
  } else {
    for (int r = 0; r < rows.count; ++r)
      for (int h = h0; h < h1; ++h)
        for (int t = 0; t < rows.n[r]; ++t)
          sc.scores[(static_cast<size_t>(r) * a.nh + h) * n16 + t] =
              Dot(rows.q[r] + h * a.dq,
                  static_cast<const float*>(sc.k_rows[t]) + (h / group) * a.dq, a.dq);
  }
  for (int r = 0; r < rows.count; ++r)
    for (int h = h0; h < h1; ++h) {
      float* p = sc.scores.data() + (static_cast<size_t>(r) * a.nh + h) * n16;
      const int nr = rows.n[r];
      const float mx = ScaleAndMax(p, nr, a.scale);
#pragma omp simd
      for (int t = 0; t < nr; ++t) p[t] = FastExp(p[t] - mx);
      rows.partial[r][static_cast<size_t>(h) * stride] = mx;
      rows.partial[r][static_cast<size_t>(h) * stride + 1] = Sum(p, nr);
    }
  if (vector) {
    WeightedSumAvx512(a, rows, sc, n, n16);
    return;
  }
  for (int r = 0; r < rows.count; ++r)
    for (int h = h0; h < h1; ++h) {
      float* o = rows.partial[r] + static_cast<size_t>(h) * stride + kPartialExtra;
      const float* p = sc.scores.data() + (static_cast<size_t>(r) * a.nh + h) * n16;
      std::fill(o, o + a.dv, 0.0f);
      for (int t = 0; t < rows.n[r]; ++t)
        Axpy(p[t], static_cast<const float*>(sc.v_rows[t]) + (h / group) * a.dv, o, a.dv);
    }
}

// out (nh·dv values) from a row's chunk partials, merged in chunk order.
void MergeChunks(const AttentionArgs& a, const float* partials, int chunks, float* out) {
  const int stride = PartialSize(a);
  for (int h = 0; h < a.nh; ++h) {
    const float* first = partials + static_cast<size_t>(h) * (a.dv + kPartialExtra);
    float mx = first[0];
    for (int c = 1; c < chunks; ++c) mx = std::max(mx, first[static_cast<size_t>(c) * stride]);
    float* o = out + static_cast<size_t>(h) * a.dv;
    std::fill(o, o + a.dv, 0.0f);
    float total = 0.0f;
    for (int c = 0; c < chunks; ++c) {
      const float* part = first + static_cast<size_t>(c) * stride;
      const float w = chunks == 1 ? 1.0f : std::exp(part[0] - mx);
      total += w * part[1];
      Axpy(w, part + kPartialExtra, o, a.dv);
    }
    const float inv = 1.0f / total;
    for (int d = 0; d < a.dv; ++d) o[d] *= inv;
  }
}

// Whether query rows see the same key positions up to their own count: everything but the end
// of the own causal run matches.
bool SameKeys(const KeyRanges& x, const KeyRanges& y) {
  return x.prefix_count == y.prefix_count && x.ring_lo == y.ring_lo && x.ring_hi == y.ring_hi &&
         x.own_lo[0] == y.own_lo[0] && x.own_hi[0] == y.own_hi[0] && x.own_lo[1] == y.own_lo[1];
}

}  // namespace

void Attention(const AttentionArgs& a) {
  // Query rows, flattened over entries, and their key chunks.
  struct Row {
    int entry, i, n_keys, chunks;
    size_t first_chunk;  // index of the row's first chunk among all rows' chunks
  };
  std::vector<Row> rows;
  size_t total_chunks = 0;
  for (size_t e = 0; e < a.seqs.size(); ++e)
    for (int i = 0; i < a.seqs[e].len; ++i) {
      const int n_keys = CountKeys(VisibleKeys(a, a.seqs[e], i));
      const int chunks = (n_keys + kKeyChunk - 1) / kKeyChunk;
      rows.push_back(Row{static_cast<int>(e), i, n_keys, chunks, total_chunks});
      total_chunks += chunks;
    }
  const int threads = omp_get_max_threads();
  const int row_count = static_cast<int>(rows.size());
  const size_t partial_size = PartialSize(a);
  auto query = [&](const Row& row) {
    return a.q + static_cast<size_t>(a.seqs[row.entry].row + row.i) * a.ld_q;
  };
  auto out_row = [&](const Row& row) {
    return a.out + static_cast<size_t>(a.seqs[row.entry].row + row.i) * a.ld_out;
  };
  const size_t work = static_cast<size_t>(total_chunks) * kKeyChunk * a.nh * (a.dq + a.dv);
  if (row_count >= 4 * threads) {
    // Many rows (prefill): consecutive rows of an entry that see the same key positions form a
    // block (up to kRowBlock rows); a block per work item, its chunks in turn.
    std::vector<std::pair<int, int>> blocks;  // (first row, row count)
    for (int r = 0; r < row_count;) {
      const KeyRanges first = VisibleKeys(a, a.seqs[rows[r].entry], rows[r].i);
      int count = 1;
      while (count < kRowBlock && r + count < row_count && rows[r + count].entry == rows[r].entry &&
             SameKeys(first, VisibleKeys(a, a.seqs[rows[r].entry], rows[r + count].i)))
        ++count;
      blocks.emplace_back(r, count);
      r += count;
    }
    const int block_count = static_cast<int>(blocks.size());
#pragma omp parallel if (WorthThreads(work))
    {
      Scratch scratch;
      std::vector<float> partials;
#pragma omp for schedule(dynamic, 1)
      for (int b = 0; b < block_count; ++b) {
        const int r0 = blocks[b].first, count = blocks[b].second;
        const Row& last = rows[r0 + count - 1];
        const SeqSpan& s = a.seqs[last.entry];
        const KeyRanges ranges = VisibleKeys(a, s, last.i);
        partials.resize(static_cast<size_t>(count) * last.chunks * partial_size);
        auto partial = [&](int r, int c) {
          return partials.data() + (static_cast<size_t>(r) * last.chunks + c) * partial_size;
        };
        for (int c = 0; c < last.chunks; ++c) {
          const int lo = c * kKeyChunk, hi = std::min(last.n_keys, lo + kKeyChunk);
          GatherKeyRange(a, s, ranges, lo, hi, scratch);
          ChunkRows chunk;
          chunk.g1 = a.kvh;
          for (int r = 0; r < count; ++r) {
            const Row& row = rows[r0 + r];
            if (row.n_keys <= lo) continue;
            chunk.q[chunk.count] = query(row);
            chunk.n[chunk.count] = std::min(row.n_keys, hi) - lo;
            chunk.partial[chunk.count] = partial(r, c);
            ++chunk.count;
          }
          AttendChunk(a, chunk, scratch);
        }
        for (int r = 0; r < count; ++r)
          MergeChunks(a, partial(r, 0), rows[r0 + r].chunks, out_row(rows[r0 + r]));
      }
    }
    return;
  }
  // Few rows (decode): every chunk of every row is a work item, so a long context spreads over
  // all threads; with fewer than two chunks per thread, each chunk is split by KV heads too (a
  // chunk read whole streams its K/V rows better). The rows are merged afterwards.
  std::vector<float> partials(total_chunks * partial_size);
  struct Item {
    int row, chunk, g0, g1;
  };
  const int parts = total_chunks >= static_cast<size_t>(2 * threads) ? 1 : a.kvh;
  std::vector<Item> items;
  for (int r = 0; r < row_count; ++r)
    for (int c = 0; c < rows[r].chunks; ++c)
      for (int part = 0; part < parts; ++part)
        items.push_back(Item{r, c, part * a.kvh / parts, (part + 1) * a.kvh / parts});
  const int item_count = static_cast<int>(items.size());
#pragma omp parallel if (item_count > 1 && WorthThreads(work))
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (int it = 0; it < item_count; ++it) {
      const Row& row = rows[items[it].row];
      const int c = items[it].chunk;
      const SeqSpan& s = a.seqs[row.entry];
      const int lo = c * kKeyChunk, hi = std::min(row.n_keys, lo + kKeyChunk);
      GatherKeyRange(a, s, VisibleKeys(a, s, row.i), lo, hi, scratch);
      ChunkRows chunk;
      chunk.count = 1;
      chunk.g0 = items[it].g0;
      chunk.g1 = items[it].g1;
      chunk.q[0] = query(row);
      chunk.n[0] = hi - lo;
      chunk.partial[0] = partials.data() + (row.first_chunk + c) * partial_size;
      AttendChunk(a, chunk, scratch);
    }
  }
  for (const Row& row : rows)
    MergeChunks(a, partials.data() + row.first_chunk * partial_size, row.chunks, out_row(row));
}

}  // namespace hymba::engine::cpu
