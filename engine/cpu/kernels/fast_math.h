// Vectorizable fp32 exp / log / SiLU / softplus for the CPU kernels. Written as straight-line
// float code so GCC vectorizes loops that call them (glibc's expf/logf do not vectorize without
// -ffast-math). Relative error about 2e-7 over the fp32 range; inputs are clamped so no NaN
// arises from overflow.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>

namespace hymba::engine::cpu {

inline float BitsToFloat(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof(f));
  return f;
}
inline int32_t FloatToBits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof(i));
  return i;
}

// e^x: x = n·ln2 + r with |r| <= ln2/2, e^r by a degree-7 Taylor polynomial, 2^n from bits.
inline float FastExp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float kShifter = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer
  float n = (x * 1.44269504088896341f + kShifter) - kShifter;
  float r = x - n * 0.693145751953125f;    // ln2 split in a high part exact in fp32...
  r = r - n * 1.42860682030941723212e-6f;  // ...and the low remainder
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * BitsToFloat((static_cast<int32_t>(n) + 127) << 23);
}

// ln(x) for x > 0 (finite): x = m·2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2·atanh(s).
inline float FastLog(float x) {
  int32_t bits = FloatToBits(x);
  int32_t e = ((bits >> 23) & 0xff) - 127;
  float m = BitsToFloat((bits & 0x007fffff) | 0x3f800000);  // [1, 2)
  if (m > 1.41421356f) {
    m *= 0.5f;
    e += 1;
  }
  float s = (m - 1.0f) / (m + 1.0f);
  float s2 = s * s;
  float p = 1.0f / 11.0f;
  p = p * s2 + 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p + static_cast<float>(e) * 0.693147180559945309f;
}

inline float FastSilu(float x) { return x / (1.0f + FastExp(-x)); }

// log(1 + e^x), exact to fp32 for large x.
inline float FastSoftplus(float x) {
  float ax = x < 0.0f ? -x : x;
  float pos = x > 0.0f ? x : 0.0f;
  return pos + FastLog(1.0f + FastExp(-ax));
}

}  // namespace hymba::engine::cpu
