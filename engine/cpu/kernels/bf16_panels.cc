#include "engine/cpu/kernels/bf16_panels.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <cstdlib>
#include <new>

#include "engine/cpu/kernels/gemv_bf16.h"
#include "engine/cpu/kernels/transpose16.h"

// GCC 12 flags the deliberately undefined pass-through operands inside the AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace hymba::engine::cpu {

void Bf16Panels::Free::operator()(uint32_t* p) const { std::free(p); }

Bf16Panels::Bf16Panels(const uint16_t* w, int n, int k) : n_(n), k_(k) {
  // Large weights on 2 MiB pages where the kernel allows: one TLB entry covers 2 MiB of the
  // stream instead of 4 KiB. The start is 2 MiB aligned; the size is not rounded up, so a
  // weight's last partial 2 MiB stays on small pages instead of holding a mostly empty huge page.
  const size_t huge = size_t{2} << 20;
  const size_t align = bytes() >= huge ? huge : 64;
  void* memory = nullptr;
  if (posix_memalign(&memory, align, bytes() > 0 ? bytes() : align) != 0) throw std::bad_alloc();
  data_.reset(static_cast<uint32_t*>(memory));
  if (align == huge) madvise(memory, bytes(), MADV_HUGEPAGE);
  const int pair_count = pairs(), panel_count = panels();
#pragma omp parallel for schedule(static)
  for (int b = 0; b < panel_count; ++b) {
    uint32_t* dst = data_.get() + static_cast<size_t>(b) * pair_count * kPanelCols;
    for (int j = 0; j < kPanelCols; ++j) {
      const int c = b * kPanelCols + j;
      const uint16_t* row = c < n ? w + static_cast<size_t>(c) * k : nullptr;
      for (int p = 0; p < pair_count; ++p) {
        uint32_t lo = 0, hi = 0;
        if (row != nullptr) {
          lo = row[2 * p];
          if (2 * p + 1 < k) hi = row[2 * p + 1];
        }
        dst[static_cast<size_t>(p) * kPanelCols + j] = lo | hi << 16;
      }
    }
  }
}

namespace {

// Pairs per block of the unpacking loops: a block of a panel (8 KiB) stays in L1 while each of its
// 32 columns is written out as one sequential run.
constexpr int kUnpackPairs = 64;

// Row c of the output (c < n) gets the pairs of lane c mod 32 of panel c / 32, each pair written
// by store(row, p, lane): panel b.
template <typename Store>
void UnpackPanel(const Bf16Panels& w, int b, Store& store) {
  const int n = w.n(), pair_count = w.pairs();
  const uint32_t* panel = w.panel(b);
  const int width = n - b * kPanelCols < kPanelCols ? n - b * kPanelCols : kPanelCols;
  for (int p0 = 0; p0 < pair_count; p0 += kUnpackPairs) {
    const int p1 = p0 + kUnpackPairs < pair_count ? p0 + kUnpackPairs : pair_count;
    for (int j = 0; j < width; ++j) {
      const int row = b * kPanelCols + j;
      for (int p = p0; p < p1; ++p) store(row, p, panel[static_cast<size_t>(p) * kPanelCols + j]);
    }
  }
}

// UnpackPanel for the panels [b0, b1): by panels over the OpenMP threads when `threaded` (each
// thread writes whole output rows), else on the calling thread.
template <typename Store>
void Unpack(const Bf16Panels& w, int b0, int b1, bool threaded, Store store) {
  if (!threaded) {
    for (int b = b0; b < b1; ++b) UnpackPanel(w, b, store);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int b = b0; b < b1; ++b) UnpackPanel(w, b, store);
}

}  // namespace

// WidenBf16Panels for even k on AVX-512: blocks of 16 pairs x 16 lanes are transposed in
// registers (rows r[i] = pair i, so o[c] holds lane c's 16 pairs); a lane's 16 pairs are 32
// consecutive bf16 of its row, widened by zero-extending each half to 32 bits and shifting it up.
// The last pairs (fewer than 16) go through scalar code.
__attribute__((target("avx512f,avx512bw"))) void WidenPanelAvx512(const Bf16Panels& w, int b,
                                                                  int base, float* out) {
  const int n = w.n(), k = w.k(), pair_count = w.pairs();
  const int vector_pairs = pair_count / 16 * 16;
  const uint32_t* panel = w.panel(b);
  for (int half = 0; half < 2; ++half) {
    const int col0 = b * kPanelCols + 16 * half;
    const int width = n - col0 < 16 ? n - col0 : 16;
    if (width <= 0) break;
    for (int p0 = 0; p0 < vector_pairs; p0 += 16) {
      __m512i r[16], o[16];
      for (int i = 0; i < 16; ++i)
        r[i] = _mm512_load_si512(panel + static_cast<size_t>(p0 + i) * kPanelCols + 16 * half);
      Transpose16x16(r, o);
      for (int c = 0; c < width; ++c) {
        float* dst = out + static_cast<size_t>(col0 - base + c) * k + 2 * p0;
        const __m512i lo =
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(o[c])), 16);
        const __m512i hi =
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(o[c], 1)), 16);
        _mm512_storeu_si512(dst, lo);
        _mm512_storeu_si512(dst + 16, hi);
      }
    }
    for (int c = 0; c < width; ++c) {
      uint32_t* dst = reinterpret_cast<uint32_t*>(out) + static_cast<size_t>(col0 - base + c) * k;
      for (int p = vector_pairs; p < pair_count; ++p) {
        const uint32_t lane = panel[static_cast<size_t>(p) * kPanelCols + 16 * half + c];
        dst[2 * p] = lane << 16;
        dst[2 * p + 1] = lane & 0xFFFF0000u;
      }
    }
  }
}

// WidenPanelAvx512 for the panels [b0, b1) into out (rows from b0·kPanelCols on): over the
// OpenMP threads when `threaded`, else on the calling thread.
void WidenEvenKAvx512(const Bf16Panels& w, int b0, int b1, bool threaded, float* out) {
  const int base = b0 * kPanelCols;
  if (!threaded) {
    for (int b = b0; b < b1; ++b) WidenPanelAvx512(w, b, base, out);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int b = b0; b < b1; ++b) WidenPanelAvx512(w, b, base, out);
}

namespace {

void Widen(const Bf16Panels& w, int b0, int b1, bool threaded, float* out) {
  const int k = w.k();
  if (k % 2 == 0 && GemvBf16Available()) {
    WidenEvenKAvx512(w, b0, b1, threaded, out);
    return;
  }
  uint32_t* bits = reinterpret_cast<uint32_t*>(out);
  const int base = b0 * kPanelCols;  // out's first row
  Unpack(w, b0, b1, threaded, [bits, k, base](int row, int p, uint32_t lane) {
    uint32_t* dst = bits + static_cast<size_t>(row - base) * k + 2 * p;
    dst[0] = lane << 16;
    if (2 * p + 1 < k) dst[1] = lane & 0xFFFF0000u;
  });
}

}  // namespace

void WidenBf16Panels(const Bf16Panels& w, float* out) { Widen(w, 0, w.panels(), true, out); }

void WidenBf16Panels(const Bf16Panels& w, int first_panel, int panel_count, float* out) {
  Widen(w, first_panel, first_panel + panel_count, false, out);
}

void UnpackBf16Panels(const Bf16Panels& w, uint16_t* out) {
  const int k = w.k();
  // A lane holds its two values in memory order already.
  Unpack(w, 0, w.panels(), true, [out, k](int row, int p, uint32_t lane) {
    uint16_t* dst = out + static_cast<size_t>(row) * k + 2 * p;
    dst[0] = static_cast<uint16_t>(lane);
    if (2 * p + 1 < k) dst[1] = static_cast<uint16_t>(lane >> 16);
  });
}

}  // namespace hymba::engine::cpu
