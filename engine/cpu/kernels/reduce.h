// Fixed-order fp32 reductions. An `omp simd` reduction splits elements into vector lanes
// according to the pointer's alignment, so the same numbers summed from two addresses can round
// differently; these helpers always accumulate element i into lane i % 16 and add the lanes in a
// fixed order. That is what makes a sequence's logits identical whether its keys come from the
// ring or from the current chunk, and whatever row of the packed batch it occupies.
//
// Thread safety: pure functions.
#pragma once

namespace hymba::engine::cpu {

constexpr int kReduceLanes = 16;

inline float LaneTotal(const float* acc) {
  float s = 0.0f;
  for (int j = 0; j < kReduceLanes; ++j) s += acc[j];
  return s;
}

// Σ a[i]·b[i]
inline float Dot(const float* a, const float* b, int n) {
  float acc[kReduceLanes] = {};
  int i = 0;
  for (; i + kReduceLanes <= n; i += kReduceLanes) {
#pragma omp simd
    for (int j = 0; j < kReduceLanes; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i + j < n; ++j) acc[j] += a[i + j] * b[i + j];
  return LaneTotal(acc);
}

// Σ a[i]²
inline float SumSquares(const float* a, int n) { return Dot(a, a, n); }

// Σ a[i]
inline float Sum(const float* a, int n) {
  float acc[kReduceLanes] = {};
  int i = 0;
  for (; i + kReduceLanes <= n; i += kReduceLanes) {
#pragma omp simd
    for (int j = 0; j < kReduceLanes; ++j) acc[j] += a[i + j];
  }
  for (int j = 0; i + j < n; ++j) acc[j] += a[i + j];
  return LaneTotal(acc);
}

}  // namespace hymba::engine::cpu
