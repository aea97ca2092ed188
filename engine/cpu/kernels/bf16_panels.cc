#include "engine/cpu/kernels/bf16_panels.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>

namespace hymba::engine::cpu {

void Bf16Panels::Free::operator()(uint32_t* p) const { std::free(p); }

Bf16Panels::Bf16Panels(const uint16_t* w, int n, int k) : n_(n), k_(k) {
  // Large weights on 2 MiB pages where the kernel allows: one TLB entry covers 2 MiB of the
  // stream instead of 4 KiB.
  const size_t huge = size_t{2} << 20;
  const size_t align = bytes() >= huge ? huge : 64;
  const size_t size = (bytes() + align - 1) / align * align;
  data_.reset(static_cast<uint32_t*>(std::aligned_alloc(align, size > 0 ? size : align)));
  if (!data_) throw std::bad_alloc();
  if (align == huge) madvise(data_.get(), size, MADV_HUGEPAGE);
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

// out[(2p + h)·n + c] = half h of lane (c mod 32) in pair p of panel c / 32, through convert.
template <typename T, typename Convert>
void Unpack(const Bf16Panels& w, T* out, Convert convert) {
  const int n = w.n(), k = w.k(), pair_count = w.pairs(), panel_count = w.panels();
  // By pairs, so that each thread writes whole output rows.
#pragma omp parallel for schedule(static)
  for (int p = 0; p < pair_count; ++p) {
    T* even = out + static_cast<size_t>(2 * p) * n;
    T* odd = 2 * p + 1 < k ? even + n : nullptr;
    for (int b = 0; b < panel_count; ++b) {
      const uint32_t* lanes = w.panel(b) + static_cast<size_t>(p) * kPanelCols;
      const int base = b * kPanelCols;
      const int width = n - base < kPanelCols ? n - base : kPanelCols;
      for (int j = 0; j < width; ++j) even[base + j] = convert(lanes[j] << 16);
      if (odd != nullptr)
        for (int j = 0; j < width; ++j) odd[base + j] = convert(lanes[j] & 0xFFFF0000u);
    }
  }
}

}  // namespace

void WidenBf16Panels(const Bf16Panels& w, float* out) {
  Unpack(w, reinterpret_cast<uint32_t*>(out), [](uint32_t bits) { return bits; });
}

void UnpackBf16Panels(const Bf16Panels& w, uint16_t* out) {
  Unpack(w, out, [](uint32_t bits) { return static_cast<uint16_t>(bits >> 16); });
}

}  // namespace hymba::engine::cpu
