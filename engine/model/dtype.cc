#include "engine/model/dtype.h"

#include <cstring>

namespace hymba::engine {
namespace {

// Loads element `i` of a possibly unaligned uint16_t array (safetensors guarantees no alignment).
inline uint16_t LoadU16(const unsigned char* p, size_t i) {
  uint16_t v;
  std::memcpy(&v, p + 2 * i, sizeof(v));
  return v;
}

inline float BitsToF32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
      return 2;
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
  }
  return "?";
}

// IEEE binary16: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. Every binary16 value is
// exactly representable in binary32, so this is exact. All three cases are computed and one is
// selected, so the bulk loops below vectorize.
float F16ToF32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1fu;
  const uint32_t mant = bits & 0x3ffu;
  // Normal: rebias the exponent from 15 to 127.
  const uint32_t normal = ((exp + (127 - 15)) << 23) | (mant << 13);
  // Inf or NaN: keep the payload, so a quiet NaN stays quiet.
  const uint32_t inf_nan = 0x7f800000u | (mant << 13);
  // Zero or subnormal: mant * 2^-24, exact in binary32 since mant < 2^10.
  const float tiny = static_cast<float>(mant) * BitsToF32(0x33800000u);  // 2^-24
  uint32_t tiny_bits;
  std::memcpy(&tiny_bits, &tiny, sizeof(tiny_bits));
  const uint32_t mag = exp == 0x1fu ? inf_nan : (exp == 0 ? tiny_bits : normal);
  return BitsToF32(sign | mag);
}

void ConvertToF32(DType dtype, const void* src, size_t count, float* dst) {
  const auto* p = static_cast<const unsigned char*>(src);
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, count * sizeof(float));
      return;
    case DType::kBF16:
      for (size_t i = 0; i < count; ++i) dst[i] = Bf16ToF32(LoadU16(p, i));
      return;
    case DType::kF16:
      for (size_t i = 0; i < count; ++i) dst[i] = F16ToF32(LoadU16(p, i));
      return;
  }
}

void ConvertToBf16(DType dtype, const void* src, size_t count, uint16_t* dst) {
  const auto* p = static_cast<const unsigned char*>(src);
  switch (dtype) {
    case DType::kBF16:
      std::memcpy(dst, src, count * sizeof(uint16_t));
      return;
    case DType::kF32:
      for (size_t i = 0; i < count; ++i) {
        float f;
        std::memcpy(&f, p + 4 * i, sizeof(f));
        dst[i] = F32ToBf16(f);
      }
      return;
    case DType::kF16:
      for (size_t i = 0; i < count; ++i) dst[i] = F32ToBf16(F16ToF32(LoadU16(p, i)));
      return;
  }
}

}  // namespace hymba::engine
