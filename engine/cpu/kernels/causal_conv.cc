#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/fast_math.h"
#include "engine/cpu/kernels/parallel.h"

namespace hymba::engine::cpu {
namespace {

// Channel blocks are the unit of parallel work: each thread owns whole channel columns of one
// entry, so the state update needs no synchronisation.
constexpr int kChannelBlock = 256;

void ConvBlock(const CausalConvArgs& a, const SeqSpan& s, int c0, int c1) {
  const int taps = a.kernel, hist = a.kernel - 1;
  float* state = a.state + static_cast<size_t>(s.slot) * hist * a.channels;
  // in(τ) for τ in [-hist, len): history rows first, then the entry's rows.
  auto input = [&](int tau) -> const float* {
    return tau < 0 ? state + static_cast<size_t>(hist + tau) * a.channels
                   : a.x + static_cast<size_t>(s.row + tau) * a.ld_x;
  };
  for (int t = 0; t < s.len; ++t) {
    float* out = a.out + static_cast<size_t>(s.row + t) * a.ld_out;
    for (int c = c0; c < c1; ++c) out[c] = a.bias ? a.bias[c] : 0.0f;
    for (int j = 0; j < taps; ++j) {
      const float* in = input(t - hist + j);
      const float* w = a.weight + static_cast<size_t>(j) * a.channels;
#pragma omp simd
      for (int c = c0; c < c1; ++c) out[c] += w[c] * in[c];
    }
#pragma omp simd
    for (int c = c0; c < c1; ++c) out[c] = FastSilu(out[c]);
  }
  // New history: the last `hist` inputs of [old history ; entry rows].
  std::vector<float> tmp(static_cast<size_t>(hist) * (c1 - c0));
  for (int h = 0; h < hist; ++h) {
    const float* in = input(s.len - hist + h);
    std::memcpy(tmp.data() + static_cast<size_t>(h) * (c1 - c0), in + c0,
                (c1 - c0) * sizeof(float));
  }
  for (int h = 0; h < hist; ++h)
    std::memcpy(state + static_cast<size_t>(h) * a.channels + c0,
                tmp.data() + static_cast<size_t>(h) * (c1 - c0), (c1 - c0) * sizeof(float));
}

}  // namespace

void CausalConv(const CausalConvArgs& a) {
  const int blocks = (a.channels + kChannelBlock - 1) / kChannelBlock;
  const int total = static_cast<int>(a.seqs.size()) * blocks;
#pragma omp parallel for schedule( \
    dynamic, 1) if (WorthThreads(TotalTokens(a.seqs) * a.channels * a.kernel))
  for (int item = 0; item < total; ++item) {
    const SeqSpan& s = a.seqs[item / blocks];
    const int c0 = (item % blocks) * kChannelBlock;
    ConvBlock(a, s, c0, std::min(a.channels, c0 + kChannelBlock));
  }
}

}  // namespace hymba::engine::cpu
