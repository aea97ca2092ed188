#include "engine/cpu/kernels/bf16_panels.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
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

// Pairs per block of the unpacking loops: a block of a panel (8 KiB) stays in L1 while each of its
// 32 columns is written out as one sequential run.
constexpr int kUnpackPairs = 64;

// Row c of the output (c < n) gets the pairs of lane c mod 32 of panel c / 32, each pair written
// by store(row, p, lane). By panels, so that each thread writes whole output rows.
template <typename Store>
void Unpack(const Bf16Panels& w, Store store) {
  const int n = w.n(), pair_count = w.pairs(), panel_count = w.panels();
#pragma omp parallel for schedule(static)
  for (int b = 0; b < panel_count; ++b) {
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
}

}  // namespace

void WidenBf16Panels(const Bf16Panels& w, float* out) {
  const int k = w.k();
  uint32_t* bits = reinterpret_cast<uint32_t*>(out);
  if (k % 2 == 0) {
    // Both halves of a lane at once: one 8-byte store per pair.
    Unpack(w, [bits, k](int row, int p, uint32_t lane) {
      const uint64_t wide = static_cast<uint64_t>(lane & 0xFFFF0000u) << 32 | (lane << 16);
      std::memcpy(bits + static_cast<size_t>(row) * k + 2 * p, &wide, sizeof(wide));
    });
    return;
  }
  Unpack(w, [bits, k](int row, int p, uint32_t lane) {
    uint32_t* dst = bits + static_cast<size_t>(row) * k + 2 * p;
    dst[0] = lane << 16;
    if (2 * p + 1 < k) dst[1] = lane & 0xFFFF0000u;
  });
}

void UnpackBf16Panels(const Bf16Panels& w, uint16_t* out) {
  const int k = w.k();
  // A lane holds its two values in memory order already.
  Unpack(w, [out, k](int row, int p, uint32_t lane) {
    uint16_t* dst = out + static_cast<size_t>(row) * k + 2 * p;
    dst[0] = static_cast<uint16_t>(lane);
    if (2 * p + 1 < k) dst[1] = static_cast<uint16_t>(lane >> 16);
  });
}

}  // namespace hymba::engine::cpu
