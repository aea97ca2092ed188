#include <algorithm>

#if defined(__AVX512F__)
#include <immintrin.h>
// GCC 12 flags the deliberately undefined pass-through operand inside the AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "engine/base/status_macros.h"
#include "engine/cpu/kernels/cpu_kernels.h"
#include "engine/cpu/kernels/fast_math.h"
#include "engine/cpu/kernels/parallel.h"
#include "engine/cpu/kernels/reduce.h"

namespace hymba::engine::cpu {
namespace {

constexpr int kChannelBlock = 64;

// Channels [c0, c1) of one entry, one channel at a time: the portable path, and the path for
// state sizes that are not a multiple of 16.
void ScanChannels(const SelectiveScanArgs& a, const SeqSpan& s, int c0, int c1) {
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

#if defined(__AVX512F__)
// Whether the vector path serves this state size: the state vector of a channel is whole zmm
// registers.
bool VectorStates(int n_state) { return n_state % 16 == 0; }

// The lane sums of v[0..15], lane j of the result = Σ v[j]: four rounds of pairwise block
// shuffles and adds, then one permutation to the natural order.
inline __m512 TransposeSum16(__m512 (&v)[16]) {
  __m512 h[8], q[4], e[2];
  for (int i = 0; i < 8; ++i)  // lanes 0-7: v[2i]'s two 256-bit halves summed, 8-15: v[2i+1]'s
    h[i] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; ++i)  // each 128-bit block: four partial sums of one vector
    q[i] = _mm512_add_ps(_mm512_shuffle_f32x4(h[2 * i], h[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(h[2 * i], h[2 * i + 1], 0xDD));
  for (int i = 0; i < 2; ++i)  // each block: two partial sums of two vectors
    e[i] = _mm512_add_ps(_mm512_shuffle_ps(q[2 * i], q[2 * i + 1], 0x44),
                         _mm512_shuffle_ps(q[2 * i], q[2 * i + 1], 0xEE));
  const __m512 sums =
      _mm512_add_ps(_mm512_shuffle_ps(e[0], e[1], 0x88), _mm512_shuffle_ps(e[0], e[1], 0xDD));
  // Lane 4k + m of sums holds the total of v[4m + k].
  const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  return _mm512_permutexvar_ps(order, sums);
}

// e^x for 16 lanes: FastExp's reduction and polynomial, 2^n applied by vscalefps.
inline __m512 Exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Channels [c0, c0 + 16) of one entry: each channel's state update runs with its states in the
// lanes (the state layout [I, N] as it is), and the 16 channels' C·state sums come out of one
// transposing reduction, so the output, D·x and the gate are computed for the 16 channels at
// once.
void ScanChannels16(const SelectiveScanArgs& a, const SeqSpan& s, int c0) {
  const int n_state = a.d_state, vecs = n_state / 16;
  float* state = a.state + static_cast<size_t>(s.slot) * a.channels * n_state;
  const __m512 d = _mm512_loadu_ps(a.d + c0);
  for (int t = 0; t < s.len; ++t) {
    const size_t r = static_cast<size_t>(s.row + t);
    const float* dt = a.dt + r * a.ld_dt + c0;
    const float* xc = a.xc + r * a.ld_xc + c0;
    const float* b = a.b + r * a.ld_b;
    const float* c = a.c + r * a.ld_c;
    __m512 prod[16];
    for (int j = 0; j < 16; ++j) {
      const __m512 delta = _mm512_set1_ps(dt[j]);
      const __m512 dx = _mm512_set1_ps(dt[j] * xc[j]);
      const float* an = a.a + static_cast<size_t>(c0 + j) * n_state;
      float* sn = state + static_cast<size_t>(c0 + j) * n_state;
      __m512 acc = _mm512_setzero_ps();
      for (int v = 0; v < vecs; ++v) {
        const __m512 decay = Exp16(_mm512_mul_ps(delta, _mm512_loadu_ps(an + 16 * v)));
        const __m512 next = _mm512_fmadd_ps(decay, _mm512_loadu_ps(sn + 16 * v),
                                            _mm512_mul_ps(dx, _mm512_loadu_ps(b + 16 * v)));
        _mm512_storeu_ps(sn + 16 * v, next);
        acc = _mm512_fmadd_ps(next, _mm512_loadu_ps(c + 16 * v), acc);
      }
      prod[j] = acc;
    }
    const __m512 x = _mm512_loadu_ps(xc);
    const __m512 z = _mm512_loadu_ps(a.z + r * a.ld_z + c0);
    const __m512 y = _mm512_fmadd_ps(d, x, TransposeSum16(prod));
    // SiLU(z) = z / (1 + e^-z)
    const __m512 gate = _mm512_div_ps(
        z, _mm512_add_ps(_mm512_set1_ps(1.0f), Exp16(_mm512_sub_ps(_mm512_setzero_ps(), z))));
    _mm512_storeu_ps(a.y + r * a.ld_y + c0, _mm512_mul_ps(y, gate));
  }
}
#endif

// Sequential over time, independent per channel: a thread owns a block of channels of one entry.
// Which path a channel takes depends only on its index and the state size, so a sequence's
// outputs do not depend on how it was batched or chunked.
void ScanBlock(const SelectiveScanArgs& a, const SeqSpan& s, int c0, int c1) {
#if defined(__AVX512F__)
  if (VectorStates(a.d_state)) {
    for (; c0 + 16 <= c1; c0 += 16) ScanChannels16(a, s, c0);
  }
#endif
  if (c0 < c1) ScanChannels(a, s, c0, c1);
}

}  // namespace

void SelectiveScan(const SelectiveScanArgs& a) {
  HY_CHECK(a.d_state <= kMaxSsmState);
  const int blocks = (a.channels + kChannelBlock - 1) / kChannelBlock;
  const int total = static_cast<int>(a.seqs.size()) * blocks;
  // An exponential per state element: weighted as a few elements of plain arithmetic, so that a
  // single decode token of a 1.5B-sized layer is split over the threads.
  const size_t work = size_t{4} * TotalTokens(a.seqs) * a.channels * a.d_state;
#pragma omp parallel for schedule(dynamic, 1) if (WorthThreads(work))
  for (int item = 0; item < total; ++item) {
    const SeqSpan& s = a.seqs[item / blocks];
    const int c0 = (item % blocks) * kChannelBlock;
    ScanBlock(a, s, c0, std::min(a.channels, c0 + kChannelBlock));
  }
}

}  // namespace hymba::engine::cpu
