#include <algorithm>

#include "engine/base/status_macros.h"
#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/fast_math.h"
#include "engine/cpu/kernels/parallel.h"
#include "engine/cpu/kernels/reduce.h"

namespace hymba::engine::cpu {
namespace {

constexpr int kChannelBlock = 64;

// Sequential over time, independent per channel: a thread owns a block of channels of one entry.
void ScanBlock(const SelectiveScanArgs& a, const SeqSpan& s, int c0, int c1) {
  const int n_state = a.d_state;
  float* state = a.state + static_cast<size_t>(s.slot) * a.channels * n_state;
  float decay[kMaxSsmState];
  for (int t = 0; t < s.len; ++t) {
    const size_t r = static_cast<size_t>(s.row + t);
    const float* xc = a.xc + r * a.ld_xc;
    const float* dt = a.dt + r * a.ld_dt;
    const float* b = a.b + r * a.ld_b;
    const float* c = a.c + r * a.ld_c;
    const float* z = a.z + r * a.ld_z;
    float* y = a.y + r * a.ld_y;
    for (int ch = c0; ch < c1; ++ch) {
      const float delta = dt[ch];
      const float dx = delta * xc[ch];
      const float* an = a.a + static_cast<size_t>(ch) * n_state;
      float* sn = state + static_cast<size_t>(ch) * n_state;
#pragma omp simd
      for (int n = 0; n < n_state; ++n) decay[n] = FastExp(delta * an[n]);
#pragma omp simd
      for (int n = 0; n < n_state; ++n) sn[n] = decay[n] * sn[n] + dx * b[n];
      const float acc = Dot(sn, c, n_state);
      y[ch] = (acc + a.d[ch] * xc[ch]) * FastSilu(z[ch]);
    }
  }
}

}  // namespace

void SelectiveScan(const SelectiveScanArgs& a) {
  HY_CHECK(a.d_state <= kMaxSsmState);
  const int blocks = (a.channels + kChannelBlock - 1) / kChannelBlock;
  const int total = static_cast<int>(a.seqs.size()) * blocks;
#pragma omp parallel for schedule( \
    dynamic, 1) if (WorthThreads(TotalTokens(a.seqs) * a.channels * a.d_state))
  for (int item = 0; item < total; ++item) {
    const SeqSpan& s = a.seqs[item / blocks];
    const int c0 = (item % blocks) * kChannelBlock;
    ScanBlock(a, s, c0, std::min(a.channels, c0 + kChannelBlock));
  }
}

}  // namespace hymba::engine::cpu
