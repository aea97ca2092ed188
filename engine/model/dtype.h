// Element types found in checkpoints and the conversions between them.
//
// bf16 and f16 values are stored as raw uint16_t bit patterns. Conversions to f32 are exact;
// f32 -> bf16 rounds to nearest even (NaN stays NaN).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"
#include "engine/base/bf16.h"

namespace hymba::engine {

enum class DType { kF32, kF16, kBF16 };

// Bytes per element.
size_t DTypeSize(DType dtype);
// "F32", "F16", "BF16" (the safetensors spelling).
const char* DTypeName(DType dtype);

inline float Bf16ToF32(uint16_t bits) { return Bf16BitsToF32(bits); }
inline uint16_t F32ToBf16(float f) { return F32ToBf16Bits(f); }

float F16ToF32(uint16_t bits);

// Converts `count` elements of `src` (in `dtype`) to f32.
void ConvertToF32(DType dtype, const void* src, size_t count, float* dst);
// Converts `count` elements of `src` (in `dtype`) to bf16 bit patterns.
void ConvertToBf16(DType dtype, const void* src, size_t count, uint16_t* dst);

}  // namespace hymba::engine
