// Token sampling from one row of logits: greedy, temperature, top-k and top-p, with randomness
// drawn from a counter-based generator keyed by (seed, step), so a request's draws never depend
// on which other requests share its batch or on the order rows are sampled in.
//
// Errors: ValidateSamplingParams returns InvalidArgument naming the parameter.
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace hymba::scheduler {

struct SamplingParams {
  float temperature = 0.0f;  // 0 = greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // (0, 1]
  uint64_t seed = 0;
};

absl::Status ValidateSamplingParams(const SamplingParams& params);

// Uniform double in [0, 1) from (seed, counter): a SplitMix64-style hash, stateless.
double CounterUniform(uint64_t seed, uint64_t counter);

// Samples a token id from logits[0..vocab). `step` counts the request's generated tokens.
// REQUIRES: ValidateSamplingParams(params).ok(), vocab > 0.
int SampleToken(const float* logits, int vocab, const SamplingParams& params, uint64_t step);

}  // namespace hymba::scheduler
