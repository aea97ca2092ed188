#include "engine/cpu/kernels/gemm_f16.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

// GCC 12 flags the deliberately undefined pass-through operands inside the AVX-512 intrinsics.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// The kernels are compiled for AVX512-FP16 function by function, so that nothing else this file
// instantiates (std::vector, std::min) carries those instructions into code other files share.
#define HY_F16_KERNEL __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512fp16")))

namespace hymba::engine::cpu {
namespace {

// Rows per micro-tile: 2·kTileRows fp16 accumulators stay in registers.
constexpr int kTileRows = 12;
// fp16 W per thread block: it stays in the core's L2 while every row tile passes over it.
constexpr size_t kBlockBytes = size_t{1} << 20;
// fp16 values per panel pair: kPanelCols lanes of two.
constexpr int kPairValues = 2 * kPanelCols;

// The power of two p with max·p in [2^lo_exp, 2^(lo_exp+1)); 1 when max is 0.
float ScaleFor(float max, int lo_exp) {
  if (!(max > 0)) return 1.0f;
  int e = 0;
  std::frexp(max, &e);  // max in [2^(e-1), 2^e)
  return std::ldexp(1.0f, std::clamp(lo_exp - (e - 1), -126, 126));
}

// Rows [r0, r0 + kTileRows) of x (rows past m are zero), scaled per row and rounded to fp16, as
// `pairs` groups of kTileRows 32-bit pairs: tile[p·kTileRows + i] = (x[r0+i, 2p], x[r0+i, 2p+1]).
HY_F16_KERNEL void ConvertRowTile(const float* x, int ld_x, int m, int k, int r0, int pairs,
                                  uint32_t* tile, float* row_inv) {
  alignas(64) uint16_t row16[16];
  for (int i = 0; i < kTileRows; ++i) {
    const int r = r0 + i;
    if (r >= m) {
      for (int p = 0; p < pairs; ++p) tile[p * kTileRows + i] = 0;
      row_inv[i] = 0.0f;
      continue;
    }
    const float* xr = x + static_cast<size_t>(r) * ld_x;
    __m512 vmax = _mm512_setzero_ps();
    for (int c = 0; c < k; c += 16) {
      const __mmask16 mask = k - c >= 16 ? 0xffff : static_cast<__mmask16>((1u << (k - c)) - 1);
      vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, xr + c)));
    }
    const float scale = ScaleFor(_mm512_reduce_max_ps(vmax), 4);
    row_inv[i] = 1.0f / scale;
    const __m512 vs = _mm512_set1_ps(scale);
    for (int c = 0; c < k; c += 16) {
      const __mmask16 mask = k - c >= 16 ? 0xffff : static_cast<__mmask16>((1u << (k - c)) - 1);
      const __m256h h = _mm512_cvtxps_ph(_mm512_mul_ps(_mm512_maskz_loadu_ps(mask, xr + c), vs));
      _mm256_store_si256(reinterpret_cast<__m256i*>(row16), _mm256_castph_si256(h));
      const int p_end = std::min(pairs, c / 2 + 8);
      for (int p = c / 2; p < p_end; ++p)
        tile[p * kTileRows + i] = static_cast<uint32_t>(row16[2 * (p - c / 2)]) |
                                  static_cast<uint32_t>(row16[2 * (p - c / 2) + 1]) << 16;
    }
  }
}

// Panels [b0, b0 + count) of W scaled per column and converted to fp16, in the panel layout
// (pairs() groups of kPanelCols (even, odd) fp16 pairs).
HY_F16_KERNEL void ConvertPanels(const Bf16Panels& w, const float* col_scale, int b0, int count,
                                 uint16_t* out) {
  const int pairs = w.pairs(), n = w.n();
  // Interleaves 16 even-k values (low half) with 16 odd-k values (high half).
  alignas(64) static const uint16_t kInterleave[32] = {0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                                       21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                                       11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  for (int b = b0; b < b0 + count; ++b) {
    __m512 scale[2];
    for (int h = 0; h < 2; ++h) {
      const int c = b * kPanelCols + h * 16;
      const int valid = std::clamp(n - c, 0, 16);
      scale[h] = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << valid) - 1), col_scale + c);
    }
    const uint32_t* src = w.panel(b);
    uint16_t* dst = out + static_cast<size_t>(b - b0) * pairs * kPairValues;
    for (int p = 0; p < pairs; ++p) {
      for (int h = 0; h < 2; ++h) {
        const __m512i v = _mm512_loadu_si512(src + p * kPanelCols + h * 16);
        const __m512 even = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), scale[h]);
        const __m512 odd = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high)), scale[h]);
        const __m512i both =
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_castph_si256(_mm512_cvtxps_ph(even))),
                               _mm256_castph_si256(_mm512_cvtxps_ph(odd)), 1);
        _mm512_storeu_si512(dst + p * kPairValues + h * 32,
                            _mm512_permutexvar_epi16(interleave, both));
      }
    }
  }
}

// t[i·64 + j] = Σ over the panel's pairs of the (even or odd, by j's parity) products of row i
// and lane j/2 of half j/32: fp16 runs of kF16Run pairs, summed in fp32.
HY_F16_KERNEL void TileProducts(const uint32_t* a, const uint16_t* panel, int pairs, float* t) {
  for (int j = 0; j < kTileRows * kPairValues; j += 16) _mm512_store_ps(t + j, _mm512_setzero_ps());
  for (int p0 = 0; p0 < pairs; p0 += kF16Run) {
    const int p1 = std::min(pairs, p0 + kF16Run);
    __m512h acc[kTileRows][2];
#pragma GCC unroll 12
    for (int i = 0; i < kTileRows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ph();
    for (int p = p0; p < p1; ++p) {
      const __m512h b0 = _mm512_loadu_ph(panel + p * kPairValues);
      const __m512h b1 = _mm512_loadu_ph(panel + p * kPairValues + 32);
      const uint32_t* ap = a + p * kTileRows;
      _mm_prefetch(reinterpret_cast<const char*>(panel + (p + 8) * kPairValues), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(panel + (p + 8) * kPairValues + 32), _MM_HINT_T0);
#pragma GCC unroll 12
      for (int i = 0; i < kTileRows; ++i) {
        const __m512h av = _mm512_castsi512_ph(_mm512_set1_epi32(static_cast<int>(ap[i])));
        acc[i][0] = _mm512_fmadd_ph(av, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ph(av, b1, acc[i][1]);
      }
    }
#pragma GCC unroll 12
    for (int i = 0; i < kTileRows; ++i) {
      for (int h = 0; h < 2; ++h) {
        const __m512i bits = _mm512_castph_si512(acc[i][h]);
        float* ti = t + i * kPairValues + h * 32;
        const __m512 lo = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_castsi512_si256(bits)));
        const __m512 hi = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_extracti64x4_epi64(bits, 1)));
        _mm512_store_ps(ti, _mm512_add_ps(_mm512_load_ps(ti), lo));
        _mm512_store_ps(ti + 16, _mm512_add_ps(_mm512_load_ps(ti + 16), hi));
      }
    }
  }
}

// y rows [r0, r0 + rows) and the panel's columns from c0: even + odd sums, scales undone.
HY_F16_KERNEL void StoreTile(const float* t, int rows, const float* row_inv, const float* col_inv,
                             int c0, int n, float* y, int ld_y, bool accumulate) {
  const __m512i evens =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_add_epi32(evens, _mm512_set1_epi32(1));
  for (int h = 0; h < 2; ++h) {
    const int c = c0 + h * 16;
    const int valid = std::clamp(n - c, 0, 16);
    if (valid == 0) break;
    const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1);
    const __m512 cinv = _mm512_maskz_loadu_ps(mask, col_inv + c);
    for (int i = 0; i < rows; ++i) {
      const float* ti = t + i * kPairValues + h * 32;
      const __m512 t0 = _mm512_load_ps(ti), t1 = _mm512_load_ps(ti + 16);
      const __m512 sum = _mm512_add_ps(_mm512_permutex2var_ps(t0, evens, t1),
                                       _mm512_permutex2var_ps(t0, odds, t1));
      __m512 out = _mm512_mul_ps(_mm512_mul_ps(sum, _mm512_set1_ps(row_inv[i])), cinv);
      float* yi = y + static_cast<size_t>(i) * ld_y + c;
      if (accumulate) out = _mm512_add_ps(out, _mm512_maskz_loadu_ps(mask, yi));
      _mm512_mask_storeu_ps(yi, mask, out);
    }
  }
}

std::vector<uint16_t>& PanelScratch() {
  thread_local std::vector<uint16_t> scratch;
  return scratch;
}

// The calling thread's converted rows (the workers read them through a reference).
std::vector<uint32_t>& RowScratch() {
  thread_local std::vector<uint32_t> scratch;
  return scratch;
}

}  // namespace

bool GemmF16Available() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512fp16");
}

HY_F16_KERNEL std::vector<float> F16ColumnScales(const Bf16Panels& w) {
  const int n = w.n(), pairs = w.pairs(), panels = w.panels();
  std::vector<float> scale(static_cast<size_t>(panels) * kPanelCols, 1.0f);
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
#pragma omp parallel for schedule(static)
  for (int b = 0; b < panels; ++b) {
    const uint32_t* src = w.panel(b);
    for (int h = 0; h < 2; ++h) {
      __m512 vmax = _mm512_setzero_ps();
      for (int p = 0; p < pairs; ++p) {
        const __m512i v = _mm512_loadu_si512(src + p * kPanelCols + h * 16);
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16))));
        vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high))));
      }
      alignas(64) float lane_max[16];
      _mm512_store_ps(lane_max, vmax);
      for (int j = 0; j < 16; ++j)
        scale[static_cast<size_t>(b) * kPanelCols + h * 16 + j] = ScaleFor(lane_max[j], 4);
    }
  }
  scale.resize(n);
  return scale;
}

HY_F16_KERNEL void GemmF16(const Bf16Panels& w, const std::vector<float>& col_scale, const float* x,
                           int ld_x, int m, float* y, int ld_y, bool accumulate) {
  const int n = w.n(), k = w.k(), pairs = w.pairs(), panels = w.panels();
  const int tiles = (m + kTileRows - 1) / kTileRows;
  const int threads = omp_get_max_threads();
  // Blocks of about kBlockBytes of fp16 W, as many as a multiple of the thread count.
  const size_t panel_bytes = static_cast<size_t>(pairs) * kPairValues * sizeof(uint16_t);
  int blocks = static_cast<int>((panels * panel_bytes + kBlockBytes - 1) / kBlockBytes);
  blocks = std::min(panels, (std::max(blocks, threads) + threads - 1) / threads * threads);
  const int block_panels = (panels + blocks - 1) / blocks;
  blocks = (panels + block_panels - 1) / block_panels;

  std::vector<uint32_t>& rows = RowScratch();
  const size_t tile_words = static_cast<size_t>(pairs) * kTileRows;
  if (rows.size() < tiles * tile_words) rows.resize(tiles * tile_words);
  std::vector<float> row_inv(static_cast<size_t>(tiles) * kTileRows);
  std::vector<float> col_inv(col_scale.size());
  for (size_t c = 0; c < col_scale.size(); ++c) col_inv[c] = 1.0f / col_scale[c];
#pragma omp parallel
  {
#pragma omp for schedule(static)
    for (int tile = 0; tile < tiles; ++tile)
      ConvertRowTile(x, ld_x, m, k, tile * kTileRows, pairs, rows.data() + tile * tile_words,
                     row_inv.data() + tile * kTileRows);
#pragma omp for schedule(dynamic, 1)
    for (int blk = 0; blk < blocks; ++blk) {
      const int b0 = blk * block_panels;
      const int count = std::min(block_panels, panels - b0);
      std::vector<uint16_t>& wbuf = PanelScratch();
      if (wbuf.size() < count * panel_bytes / 2) wbuf.resize(count * panel_bytes / 2);
      ConvertPanels(w, col_scale.data(), b0, count, wbuf.data());
      alignas(64) float t[kTileRows * kPairValues];
      for (int tile = 0; tile < tiles; ++tile) {
        const int r0 = tile * kTileRows;
        for (int b = b0; b < b0 + count; ++b) {
          TileProducts(rows.data() + tile * tile_words,
                       wbuf.data() + static_cast<size_t>(b - b0) * pairs * kPairValues, pairs, t);
          StoreTile(t, std::min(kTileRows, m - r0), row_inv.data() + r0, col_inv.data(),
                    b * kPanelCols, n, y + static_cast<size_t>(r0) * ld_y, ld_y, accumulate);
        }
      }
    }
  }
}

}  // namespace hymba::engine::cpu

#pragma GCC diagnostic pop
