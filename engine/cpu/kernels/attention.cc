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

// Per-thread scratch: one chunk's K and V rows (all KV heads; prefix and ring rows first, in bf16
// when the cache is bf16 — n_cache of them — then the entry's own fp32 rows), and every head's
// scores over them.
struct Scratch {
  std::vector<const void*> k_rows, v_rows;
  int n_cache = 0;
  std::vector<float> widened;  // portable path: bf16 cache rows widened to fp32
  std::vector<float> scores;   // [nh, keys of the chunk]
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

// How many 16-key blocks ahead the K and V rows are prefetched. A ring row holds every KV head,
// and each head reads only its part of 16 rows at a time (benchmarks/attention_decode, K/V from
// DRAM, 4K context: ~1430 µs per layer without the prefetch, ~1000 with it).
constexpr int kPrefetchBlocks = 2;

// Prefetches whole K or V rows (every KV head) of keys [from, to), in address order.
inline void PrefetchRows(const std::vector<const void*>& rows, int from, int to, int n_cache,
                         int values) {
  for (int t = from; t < to; ++t) {
    const int bytes = values * (t < n_cache ? 2 : 4);
    const char* row = static_cast<const char*>(rows[t]);
    for (int offset = 0; offset < bytes; offset += 64) _mm_prefetch(row + offset, _MM_HINT_T0);
  }
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
  const __m512 z0 =
      _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], 0x44), _mm512_shuffle_f32x4(y[0], y[1], 0xEE));
  const __m512 z1 =
      _mm512_add_ps(_mm512_shuffle_f32x4(y[2], y[3], 0x44), _mm512_shuffle_f32x4(y[2], y[3], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_f32x4(z0, z1, 0x88), _mm512_shuffle_f32x4(z0, z1, 0xDD));
}

// Every head's scores over the chunk's keys, scores[h·n + t], 16 keys at a time: the block's K
// rows (all KV heads) stay in L1 while every head reads them, so the cache streams in row order.
// Per head, 16 independent dot products share one combined lane sum (a dot product per key
// followed by its own reduction is bound by the reduction's latency); the last keys go one at a
// time.
void ScoresAvx512(const AttentionArgs& a, const float* q, const Scratch& sc, int n, float* scores) {
  const int qv = a.dq / 16, group = a.nh / a.kvh;
  int t = 0;
  const int row_values = a.kvh * a.dq;
  PrefetchRows(sc.k_rows, 0, std::min(n, kPrefetchBlocks * 16), sc.n_cache, row_values);
  for (; t + 16 <= n; t += 16) {
    PrefetchRows(sc.k_rows, std::min(n, t + kPrefetchBlocks * 16),
                 std::min(n, t + (kPrefetchBlocks + 1) * 16), sc.n_cache, row_values);
    for (int h = 0; h < a.nh; ++h) {
      const int offset = (h / group) * a.dq;
      __m512 qh[8];
      for (int j = 0; j < qv; ++j) qh[j] = _mm512_loadu_ps(q + h * a.dq + 16 * j);
      __m512 acc[16];
      for (int i = 0; i < 16; ++i) {
        const void* k = sc.k_rows[t + i];
        const bool bf16 = t + i < sc.n_cache;
        acc[i] = _mm512_mul_ps(qh[0], LoadRow(k, offset, bf16));
        for (int j = 1; j < qv; ++j)
          acc[i] = _mm512_fmadd_ps(qh[j], LoadRow(k, offset + 16 * j, bf16), acc[i]);
      }
      _mm512_storeu_ps(scores + static_cast<size_t>(h) * n + t, SumLanes16(acc));
    }
  }
  for (; t < n; ++t)
    for (int h = 0; h < a.nh; ++h) {
      const int offset = (h / group) * a.dq;
      const void* k = sc.k_rows[t];
      const bool bf16 = t < sc.n_cache;
      __m512 acc = _mm512_mul_ps(_mm512_loadu_ps(q + h * a.dq), LoadRow(k, offset, bf16));
      for (int j = 1; j < qv; ++j)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + h * a.dq + 16 * j),
                              LoadRow(k, offset + 16 * j, bf16), acc);
      scores[static_cast<size_t>(h) * n + t] = _mm512_reduce_add_ps(acc);
    }
}

// out[h·stride + d] = Σ_t p[h·n + t]·V_t[head h's KV head, d] for every head, 16 keys at a time
// for the same reason as the scores.
void WeightedSumAvx512(const AttentionArgs& a, const float* p, const Scratch& sc, int n, float* out,
                       int stride) {
  const int vv = a.dv / 16, group = a.nh / a.kvh;
  for (int h = 0; h < a.nh; ++h) std::fill(out + h * stride, out + h * stride + a.dv, 0.0f);
  const int row_values = a.kvh * a.dv;
  PrefetchRows(sc.v_rows, 0, std::min(n, kPrefetchBlocks * 16), sc.n_cache, row_values);
  for (int t0 = 0; t0 < n; t0 += 16) {
    const int t1 = std::min(n, t0 + 16);
    PrefetchRows(sc.v_rows, std::min(n, t0 + kPrefetchBlocks * 16),
                 std::min(n, t0 + (kPrefetchBlocks + 1) * 16), sc.n_cache, row_values);
    for (int h = 0; h < a.nh; ++h) {
      const int offset = (h / group) * a.dv;
      float* o = out + static_cast<size_t>(h) * stride;
      const float* ph = p + static_cast<size_t>(h) * n;
      // Even and odd keys in separate accumulators: one set alone is a chain of dependent FMAs.
      __m512 acc[16], odd[16];
      for (int j = 0; j < vv; ++j) {
        acc[j] = _mm512_loadu_ps(o + 16 * j);
        odd[j] = _mm512_setzero_ps();
      }
      int t = t0;
      for (; t + 2 <= t1; t += 2) {
        const __m512 w0 = _mm512_set1_ps(ph[t]), w1 = _mm512_set1_ps(ph[t + 1]);
        const void* v0 = sc.v_rows[t];
        const void* v1 = sc.v_rows[t + 1];
        const bool bf16_0 = t < sc.n_cache, bf16_1 = t + 1 < sc.n_cache;
        for (int j = 0; j < vv; ++j) {
          acc[j] = _mm512_fmadd_ps(w0, LoadRow(v0, offset + 16 * j, bf16_0), acc[j]);
          odd[j] = _mm512_fmadd_ps(w1, LoadRow(v1, offset + 16 * j, bf16_1), odd[j]);
        }
      }
      if (t < t1) {
        const __m512 w = _mm512_set1_ps(ph[t]);
        for (int j = 0; j < vv; ++j)
          acc[j] =
              _mm512_fmadd_ps(w, LoadRow(sc.v_rows[t], offset + 16 * j, t < sc.n_cache), acc[j]);
      }
      for (int j = 0; j < vv; ++j) _mm512_storeu_ps(o + 16 * j, _mm512_add_ps(acc[j], odd[j]));
    }
  }
}
#else
bool VectorPath(const AttentionArgs&) { return false; }
void ScoresAvx512(const AttentionArgs&, const float*, const Scratch&, int, float*) {}
void WeightedSumAvx512(const AttentionArgs&, const float*, const Scratch&, int, float*, int) {}
#endif

// A chunk's partial softmax for one head: max score m, Σ exp(s − m), and the unnormalized
// Σ exp(s − m)·V (dv values).
constexpr int kPartialExtra = 2;
int PartialSize(const AttentionArgs& a) { return a.nh * (a.dv + kPartialExtra); }

// Keys [lo, hi) of query row i of entry s, every head: partial[h·(dv + 2) + …] = {m, l, o[dv]}.
// The path (vector or portable) depends only on the head dims, so a model always sums in the
// same order.
void AttendChunk(const AttentionArgs& a, const SeqSpan& s, int i, const KeyRanges& r, int lo,
                 int hi, Scratch& sc, float* partial) {
  GatherKeyRange(a, s, r, lo, hi, sc);
  const int n = hi - lo;
  const int group = a.nh / a.kvh;
  const int stride = a.dv + kPartialExtra;
  const bool vector = VectorPath(a);
  const float* q = a.q + static_cast<size_t>(s.row + i) * a.ld_q;
  sc.scores.resize(static_cast<size_t>(a.nh) * n);
  float* scores = sc.scores.data();
  if (vector) {
    ScoresAvx512(a, q, sc, n, scores);
  } else {
    for (int h = 0; h < a.nh; ++h)
      for (int t = 0; t < n; ++t)
        scores[static_cast<size_t>(h) * n + t] =
            Dot(q + h * a.dq, static_cast<const float*>(sc.k_rows[t]) + (h / group) * a.dq, a.dq);
  }
  for (int h = 0; h < a.nh; ++h) {
    float* p = scores + static_cast<size_t>(h) * n;
    float mx = -INFINITY;
    for (int t = 0; t < n; ++t) {
      p[t] *= a.scale;
      mx = std::max(mx, p[t]);
    }
#pragma omp simd
    for (int t = 0; t < n; ++t) p[t] = FastExp(p[t] - mx);
    partial[static_cast<size_t>(h) * stride] = mx;
    partial[static_cast<size_t>(h) * stride + 1] = Sum(p, n);
  }
  if (vector) {
    WeightedSumAvx512(a, scores, sc, n, partial + kPartialExtra, stride);
    return;
  }
  for (int h = 0; h < a.nh; ++h) {
    float* o = partial + static_cast<size_t>(h) * stride + kPartialExtra;
    std::fill(o, o + a.dv, 0.0f);
    for (int t = 0; t < n; ++t)
      Axpy(scores[static_cast<size_t>(h) * n + t],
           static_cast<const float*>(sc.v_rows[t]) + (h / group) * a.dv, o, a.dv);
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
  auto out_row = [&](const Row& row) {
    const SeqSpan& s = a.seqs[row.entry];
    return a.out + static_cast<size_t>(s.row + row.i) * a.ld_out;
  };
  const size_t work = static_cast<size_t>(total_chunks) * kKeyChunk * a.nh * (a.dq + a.dv);
  if (row_count >= 4 * threads) {
    // Many rows (prefill): a row per work item, its chunks in turn.
#pragma omp parallel if (WorthThreads(work))
    {
      Scratch scratch;
      std::vector<float> partials;
#pragma omp for schedule(dynamic, 1)
      for (int r = 0; r < row_count; ++r) {
        const Row& row = rows[r];
        const SeqSpan& s = a.seqs[row.entry];
        const KeyRanges ranges = VisibleKeys(a, s, row.i);
        partials.resize(row.chunks * partial_size);
        for (int c = 0; c < row.chunks; ++c)
          AttendChunk(a, s, row.i, ranges, c * kKeyChunk, std::min(row.n_keys, (c + 1) * kKeyChunk),
                      scratch, partials.data() + c * partial_size);
        MergeChunks(a, partials.data(), row.chunks, out_row(row));
      }
    }
    return;
  }
  // Few rows (decode): every chunk of every row is a work item, so a long context spreads over
  // all threads; the rows are merged afterwards.
  std::vector<float> partials(total_chunks * partial_size);
  std::vector<std::pair<int, int>> items;  // (row, chunk)
  for (int r = 0; r < row_count; ++r)
    for (int c = 0; c < rows[r].chunks; ++c) items.emplace_back(r, c);
  const int item_count = static_cast<int>(items.size());
#pragma omp parallel if (item_count > 1 && WorthThreads(work))
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 1)
    for (int it = 0; it < item_count; ++it) {
      const Row& row = rows[items[it].first];
      const int c = items[it].second;
      const SeqSpan& s = a.seqs[row.entry];
      AttendChunk(a, s, row.i, VisibleKeys(a, s, row.i), c * kKeyChunk,
                  std::min(row.n_keys, (c + 1) * kKeyChunk), scratch,
                  partials.data() + (row.first_chunk + c) * partial_size);
    }
  }
  for (const Row& row : rows)
    MergeChunks(a, partials.data() + row.first_chunk * partial_size, row.chunks, out_row(row));
}

}  // namespace hymba::engine::cpu
