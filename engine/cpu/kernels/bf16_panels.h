// bf16 weights in column panels: the layout the bf16 GEMV streams (gemv_bf16.h).
//
// W [n, k] (checkpoint layout) is cut into panels of kPanelCols output columns; a panel is
// ceil(k/2) "pairs" of kPanelCols lanes of 32 bits, where lane j of pair p holds W[c, 2p] in its
// low half and W[c, 2p+1] in its high half (c = panel·kPanelCols + j; zero past n and k). A thread
// working through consecutive panels reads one sequential stream, and widening a lane to fp32 is
// one shift (even k) or one mask (odd k).
//
// Ownership: Bf16Panels owns its (64-byte aligned) copy of W.
// Thread safety: immutable after construction; the functions below run on the OpenMP pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace hymba::engine::cpu {

constexpr int kPanelCols = 32;

class Bf16Panels {
 public:
  // Packs W [n, k] given as row-major bf16 bits.
  Bf16Panels(const uint16_t* w, int n, int k);

  int n() const { return n_; }
  int k() const { return k_; }
  int pairs() const { return (k_ + 1) / 2; }
  int panels() const { return (n_ + kPanelCols - 1) / kPanelCols; }
  // Panel b: pairs() groups of kPanelCols lanes.
  const uint32_t* panel(int b) const {
    return data_.get() + static_cast<size_t>(b) * pairs() * kPanelCols;
  }
  size_t bytes() const { return static_cast<size_t>(panels()) * pairs() * kPanelCols * 4; }

 private:
  struct Free {
    void operator()(uint32_t* p) const;
  };
  int n_, k_;
  std::unique_ptr<uint32_t[], Free> data_;
};

// W widened to fp32 in its checkpoint layout [n, k] row-major, into out (n·k floats).
void WidenBf16Panels(const Bf16Panels& w, float* out);

// Rows [first_panel·kPanelCols, min(n, (first_panel + panel_count)·kPanelCols)) of the above,
// into out (that many rows of k floats), on the calling thread alone (for use inside a parallel
// region: a nested one would only add libgomp's overhead).
void WidenBf16Panels(const Bf16Panels& w, int first_panel, int panel_count, float* out);

// W as bf16 bits in its checkpoint layout [n, k] row-major, into out (n·k values).
void UnpackBf16Panels(const Bf16Panels& w, uint16_t* out);

}  // namespace hymba::engine::cpu
