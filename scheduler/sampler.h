// Token sampling from one row of logits, per request: logit bias, repetition / presence /
// frequency penalties, then greedy or temperature sampling truncated by top-k, top-p and min-p.
// Randomness comes from a counter-based generator keyed by (seed, step), so a request's draws
// never depend on which other requests share its batch or on the order rows are sampled in.
//
// Errors: ValidateSamplingParams returns InvalidArgument naming the parameter.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace hymba::scheduler {

struct SamplingParams {
  float temperature = 0.0f;         // 0 = greedy
  int top_k = 0;                    // 0 = off
  float top_p = 1.0f;               // (0, 1]
  float min_p = 0.0f;               // [0, 1]: drop tokens below min_p · p(best)
  float repetition_penalty = 1.0f;  // > 0; over prompt and output tokens (divides positive
                                    // logits, multiplies negative ones)
  float presence_penalty = 0.0f;    // [-2, 2]; subtracted once per token seen in the output
  float frequency_penalty = 0.0f;   // [-2, 2]; subtracted per occurrence in the output
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> added to its logit
  int top_logprobs = 0;                               // alternatives to report, 0..kMaxTopLogprobs
  bool logprobs = false;                              // report the chosen token's log-probability
  uint64_t seed = 0;
};

constexpr int kMaxTopLogprobs = 20;

// Checks every parameter; logit_bias ids must lie in [0, vocab).
absl::Status ValidateSamplingParams(const SamplingParams& params, int vocab);

// Uniform double in [0, 1) from (seed, counter): a SplitMix64-style hash, stateless.
double CounterUniform(uint64_t seed, uint64_t counter);

struct SampledToken {
  int32_t token = 0;
  float logprob = 0.0f;                        // with params.logprobs or top_logprobs
  std::vector<std::pair<int32_t, float>> top;  // top_logprobs alternatives, best first
};

// Samples the next token. `prompt` and `output` are the request's tokens so far (penalties);
// `step` = output.size(). Log-probabilities are those of the distribution after bias and
// penalties at temperature 1 (before truncation). REQUIRES: params valid, vocab > 0.
SampledToken Sample(const float* logits, int vocab, const SamplingParams& params,
                    absl::Span<const int32_t> prompt, absl::Span<const int32_t> output);

// Sample() without penalties or logprobs, for callers holding only the logits.
int SampleToken(const float* logits, int vocab, const SamplingParams& params, uint64_t step);

}  // namespace hymba::scheduler
