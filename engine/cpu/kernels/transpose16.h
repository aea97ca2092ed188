// In-register 16x16 transpose of 32-bit lanes for the AVX-512 kernels (bf16 panel widening,
// attention key blocks). Compiled for AVX-512 by a target attribute, so callers must check the
// CPU first (GemvBf16Available() or __AVX512F__).
//
// Thread safety: pure function.
#pragma once

#include <immintrin.h>

namespace hymba::engine::cpu {

// o[c] lane i = r[i] lane c: 32-bit, then 64-bit interleaves inside 128-bit blocks, then two
// rounds of 128-bit block shuffles.
__attribute__((target("avx512f"))) inline void Transpose16x16(const __m512i (&r)[16],
                                                              __m512i (&o)[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + j], block L: lane 4L + j of rows 4i .. 4i + 3.
  for (int i = 0; i < 4; ++i) {
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44);
    const __m512i v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
    o[j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    o[4 + j] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
    o[8 + j] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    o[12 + j] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
  }
}

}  // namespace hymba::engine::cpu
