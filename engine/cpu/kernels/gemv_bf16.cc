#include "engine/cpu/kernels/gemv_bf16.h"

#include <immintrin.h>
#include <omp.h>

#include <vector>

// GCC 12 flags the deliberately undefined pass-through operand inside _mm512_slli_epi32.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// The kernels are compiled for AVX-512 function by function, so that nothing else this file
// instantiates (std::vector) carries those instructions into code other files share.
#define HY_GEMV_KERNEL __attribute__((target("avx512f,avx512bw")))

namespace hymba::engine::cpu {

bool GemvBf16Available() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

namespace {

// How far ahead of the FMAs each thread prefetches its weight stream, in pairs (128 bytes each).
// On this machine kind 4-6 KiB ahead did best at 8 rows (benchmarks/gemv_bf16: 1 KiB ahead was
// 10-15% slower there, no prefetch a third slower in GB/s); one row is insensitive to it.
constexpr int kPrefetchPairs = 40;

// Weights under this size run on the calling thread: a few microseconds of work, less than
// waking an OpenMP worker costs.
constexpr size_t kParallelMinBytes = size_t{128} << 10;

bool WorthThreads(const Bf16Panels& w) { return w.bytes() >= kParallelMinBytes; }

// Panels are handed out in chunks, about eight per thread: on a shared host the two threads
// rarely stream at the same speed, and with a static split the faster one waited at the end of
// every GEMV (libgomp's spin was 10% of a batch-1 decode step's samples, 7% with chunks).
int ChunkPanels(int panels) {
  const int chunks = 8 * omp_get_max_threads();
  return panels / chunks > 1 ? panels / chunks : 1;
}

// One pair of a panel against M activation rows, into sum (M rows x 32 columns): the even k of
// the pair uses xt[0, M), the odd k xt[M, 2M).
template <int M>
HY_GEMV_KERNEL inline void PairStep(const uint32_t* w, const float* xt, __m512 (&sum)[M][2]) {
  _mm_prefetch(reinterpret_cast<const char*>(w + kPrefetchPairs * kPanelCols), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(w + kPrefetchPairs * kPanelCols + 16), _MM_HINT_T0);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  const __m512i a = _mm512_load_si512(w), b = _mm512_load_si512(w + 16);
  const __m512 a_even = _mm512_castsi512_ps(_mm512_slli_epi32(a, 16));
  const __m512 b_even = _mm512_castsi512_ps(_mm512_slli_epi32(b, 16));
  const __m512 a_odd = _mm512_castsi512_ps(_mm512_and_si512(a, high));
  const __m512 b_odd = _mm512_castsi512_ps(_mm512_and_si512(b, high));
  for (int r = 0; r < M; ++r) {
    const __m512 xe = _mm512_set1_ps(xt[r]);
    sum[r][0] = _mm512_fmadd_ps(a_even, xe, sum[r][0]);
    sum[r][1] = _mm512_fmadd_ps(b_even, xe, sum[r][1]);
  }
  for (int r = 0; r < M; ++r) {
    const __m512 xo = _mm512_set1_ps(xt[M + r]);
    sum[r][0] = _mm512_fmadd_ps(a_odd, xo, sum[r][0]);
    sum[r][1] = _mm512_fmadd_ps(b_odd, xo, sum[r][1]);
  }
}

// One panel (32 output columns) against M activation rows. xt holds the activations by pair:
// xt[(2p + h)·M + r] = x[r, 2p + h]. The panel is read as S streams at once, runs of pairs/S
// pairs: one stream per thread leaves DRAM bandwidth unused on this machine kind
// (benchmarks/stream_read: ~25 GB/s with one run per thread, ~30 with two; four streams were no
// faster than two). Where the registers allow, each stream has its own accumulators, so that a
// few rows still have enough independent FMA chains.
template <int M, int S>
HY_GEMV_KERNEL void Panel(const uint32_t* w, int pairs, const float* xt, int cols, float* y,
                          int ld_y, bool acc) {
  // An accumulator set per stream where the registers allow, else one set for all streams.
  constexpr int A = 2 * M * S <= 16 ? S : 1;
  __m512 sum[A][M][2];
  for (int s = 0; s < A; ++s)
    for (int r = 0; r < M; ++r) sum[s][r][0] = sum[s][r][1] = _mm512_setzero_ps();
  const int part = pairs / S;
  for (int p = 0; p < part; ++p)
    for (int s = 0; s < S; ++s) {
      const int q = s * part + p;
      PairStep<M>(w + static_cast<size_t>(q) * kPanelCols, xt + q * 2 * M, sum[s % A]);
    }
  for (int q = part * S; q < pairs; ++q)
    PairStep<M>(w + static_cast<size_t>(q) * kPanelCols, xt + q * 2 * M, sum[0]);
  const __mmask16 mask0 = cols >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << cols) - 1u);
  const __mmask16 mask1 = cols >= 32   ? 0xFFFF
                          : cols <= 16 ? 0
                                       : static_cast<__mmask16>((1u << (cols - 16)) - 1u);
  for (int r = 0; r < M; ++r) {
    __m512 v0 = sum[0][r][0], v1 = sum[0][r][1];
    for (int s = 1; s < A; ++s) {
      v0 = _mm512_add_ps(v0, sum[s][r][0]);
      v1 = _mm512_add_ps(v1, sum[s][r][1]);
    }
    float* out = y + static_cast<size_t>(r) * ld_y;
    if (acc) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(mask0, out));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask1, out + 16));
    }
    _mm512_mask_storeu_ps(out, mask0, v0);
    _mm512_mask_storeu_ps(out + 16, mask1, v1);
  }
}

// 9 to 16 activation rows (2·M accumulators would not fit the registers): each panel is done for
// rows 0-7 and then, straight away, for rows 8 .. M-1, which re-reads the panel from L2 (a panel
// is at most a few hundred KiB), so each weight still comes from DRAM once. xt holds the first
// eight rows by pair, xt_rest the others.
template <int M2, int S2>
void RunSplit(const Bf16Panels& w, const float* xt, const float* xt_rest, float* y, int ld_y,
              bool acc) {
  const int panels = w.panels(), pairs = w.pairs(), n = w.n();
#pragma omp parallel for schedule(dynamic, ChunkPanels(panels)) if (WorthThreads(w))
  for (int b = 0; b < panels; ++b) {
    const int col = b * kPanelCols;
    const int cols = n - col < kPanelCols ? n - col : kPanelCols;
    Panel<8, 2>(w.panel(b), pairs, xt, cols, y + col, ld_y, acc);
    Panel<M2, S2>(w.panel(b), pairs, xt_rest, cols, y + static_cast<size_t>(8) * ld_y + col, ld_y,
                  acc);
  }
}

template <int M, int S>
void Run(const Bf16Panels& w, const float* xt, float* y, int ld_y, bool acc) {
  const int panels = w.panels(), pairs = w.pairs(), n = w.n();
#pragma omp parallel for schedule(dynamic, ChunkPanels(panels)) if (WorthThreads(w))
  for (int b = 0; b < panels; ++b) {
    const int col = b * kPanelCols;
    Panel<M, S>(w.panel(b), pairs, xt, n - col < kPanelCols ? n - col : kPanelCols, y + col, ld_y,
                acc);
  }
}

// x rows [r0, r0 + m) by pair into xt: xt[c·m + r] = x[r0 + r, c], zero past k.
void ByPair(const float* x, int ld_x, int r0, int m, int k, int pairs, std::vector<float>& xt) {
  xt.assign(static_cast<size_t>(pairs) * 2 * m, 0.0f);
  for (int r = 0; r < m; ++r) {
    const float* row = x + static_cast<size_t>(r0 + r) * ld_x;
    for (int c = 0; c < k; ++c) xt[static_cast<size_t>(c) * m + r] = row[c];
  }
}

// Runner<M, 2>::Go(args...) for the row count m (1 to 8).
template <template <int, int> class Runner, typename... Args>
void Dispatch(int m, const Args&... args) {
  switch (m) {
    case 1:
      Runner<1, 2>::Go(args...);
      break;
    case 2:
      Runner<2, 2>::Go(args...);
      break;
    case 3:
      Runner<3, 2>::Go(args...);
      break;
    case 4:
      Runner<4, 2>::Go(args...);
      break;
    case 5:
      Runner<5, 2>::Go(args...);
      break;
    case 6:
      Runner<6, 2>::Go(args...);
      break;
    case 7:
      Runner<7, 2>::Go(args...);
      break;
    default:
      Runner<8, 2>::Go(args...);
      break;
  }
}

template <int M, int S>
struct Whole {
  static void Go(const Bf16Panels& w, const float* xt, float* y, int ld_y, bool acc) {
    Run<M, S>(w, xt, y, ld_y, acc);
  }
};

template <int M, int S>
struct Split {
  static void Go(const Bf16Panels& w, const float* xt, const float* xt_rest, float* y, int ld_y,
                 bool acc) {
    RunSplit<M, S>(w, xt, xt_rest, y, ld_y, acc);
  }
};

}  // namespace

void GemvBf16(const Bf16Panels& w, const float* x, int ld_x, int m, float* y, int ld_y,
              bool accumulate) {
  // The activations by pair (zero past k), so that each pair's broadcasts share a cache line.
  static thread_local std::vector<float> xt, xt_rest;
  const int k = w.k(), pairs = w.pairs();
  if (m <= 8) {
    ByPair(x, ld_x, 0, m, k, pairs, xt);
    Dispatch<Whole>(m, w, xt.data(), y, ld_y, accumulate);
    return;
  }
  ByPair(x, ld_x, 0, 8, k, pairs, xt);
  ByPair(x, ld_x, 8, m - 8, k, pairs, xt_rest);
  Dispatch<Split>(m - 8, w, xt.data(), xt_rest.data(), y, ld_y, accumulate);
}

}  // namespace hymba::engine::cpu
