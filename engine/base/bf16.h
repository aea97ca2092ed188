// bfloat16 <-> float conversions on raw uint16_t bit patterns, shared by every layer.
// f32 -> bf16 rounds to nearest even; NaN stays NaN. bf16 -> f32 is exact.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <cstring>

namespace hymba {

inline float Bf16BitsToF32(uint16_t bits) {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

inline uint16_t F32ToBf16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

}  // namespace hymba
