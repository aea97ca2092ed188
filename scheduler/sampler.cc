#include "scheduler/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace hymba::scheduler {
namespace {

absl::Status Range(const char* name, float v, float lo, float hi) {
  if (!std::isfinite(v) || v < lo || v > hi)
    return absl::InvalidArgumentError(
        absl::StrCat(name, " = ", v, ": must be in [", lo, ", ", hi, "]"));
  return absl::OkStatus();
}

// Index of the largest value (the first on ties): a vectorizable max, then a search for it.
int ArgMax(const float* x, int n) {
  float best = x[0];
#pragma omp simd reduction(max : best)
  for (int i = 0; i < n; ++i) best = x[i] > best ? x[i] : best;
  for (int i = 0; i < n; ++i)
    if (x[i] == best) return i;
  return 0;  // only NaN logits reach here
}

// Logits after bias and penalties.
std::vector<float> Processed(const float* logits, int vocab, const SamplingParams& p,
                             absl::Span<const int32_t> prompt, absl::Span<const int32_t> output) {
  std::vector<float> x(logits, logits + vocab);
  for (const auto& [id, bias] : p.logit_bias) x[id] += bias;
  if (p.repetition_penalty != 1.0f) {
    std::vector<bool> seen(vocab, false);
    for (int32_t t : prompt) seen[t] = true;
    for (int32_t t : output) seen[t] = true;
    for (int v = 0; v < vocab; ++v)
      if (seen[v]) x[v] = x[v] > 0 ? x[v] / p.repetition_penalty : x[v] * p.repetition_penalty;
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    std::unordered_map<int32_t, int> counts;
    for (int32_t t : output) ++counts[t];
    for (const auto& [t, n] : counts) x[t] -= p.presence_penalty + p.frequency_penalty * n;
  }
  return x;
}

}  // namespace

absl::Status ValidateSamplingParams(const SamplingParams& p, int vocab) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f)
    return absl::InvalidArgumentError(
        absl::StrCat("temperature = ", p.temperature, ": must be a finite value >= 0"));
  if (p.top_k < 0)
    return absl::InvalidArgumentError(absl::StrCat("top_k = ", p.top_k, ": must be >= 0"));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    return absl::InvalidArgumentError(absl::StrCat("top_p = ", p.top_p, ": must be in (0, 1]"));
  if (auto s = Range("min_p", p.min_p, 0.0f, 1.0f); !s.ok()) return s;
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f)
    return absl::InvalidArgumentError(absl::StrCat("repetition_penalty = ", p.repetition_penalty,
                                                   ": must be a finite value > 0"));
  if (auto s = Range("presence_penalty", p.presence_penalty, -2.0f, 2.0f); !s.ok()) return s;
  if (auto s = Range("frequency_penalty", p.frequency_penalty, -2.0f, 2.0f); !s.ok()) return s;
  if (p.top_logprobs < 0 || p.top_logprobs > kMaxTopLogprobs)
    return absl::InvalidArgumentError(
        absl::StrCat("top_logprobs = ", p.top_logprobs, ": must be in [0, ", kMaxTopLogprobs, "]"));
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= vocab)
      return absl::InvalidArgumentError(
          absl::StrCat("logit_bias: token id ", id, " outside the vocabulary"));
    if (auto s = Range("logit_bias value", bias, -100.0f, 100.0f); !s.ok()) return s;
  }
  return absl::OkStatus();
}

double CounterUniform(uint64_t seed, uint64_t counter) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + counter + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

namespace {

SampledToken SampleAt(const float* logits, int vocab, const SamplingParams& p,
                      absl::Span<const int32_t> prompt, absl::Span<const int32_t> output,
                      uint64_t step) {
  // Bias and penalties work on a copy; without them the logits are read in place.
  const bool processed = !p.logit_bias.empty() || p.repetition_penalty != 1.0f ||
                         p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
  std::vector<float> copy;
  if (processed) copy = Processed(logits, vocab, p, prompt, output);
  const float* x = processed ? copy.data() : logits;
  SampledToken out;
  const int argmax = ArgMax(x, vocab);
  const bool greedy = p.temperature == 0.0f || p.top_k == 1;
  auto by_logit = [&](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); };
  if (greedy) {
    out.token = argmax;
  } else {
    // Candidates by descending logit (ties by id), cut by top-k.
    const int k = p.top_k > 0 ? std::min(p.top_k, vocab) : vocab;
    std::vector<int> ids(vocab);
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), by_logit);
    ids.resize(k);
    std::vector<double> probs(k);
    const double top = x[ids[0]];
    double sum = 0.0;
    for (int i = 0; i < k; ++i) sum += probs[i] = std::exp((x[ids[i]] - top) / p.temperature);
    // min-p, then top-p: keep the smallest prefix reaching top_p of the mass.
    int keep = k;
    for (int i = 1; i < keep; ++i)
      if (probs[i] < p.min_p * probs[0]) keep = i;
    if (p.top_p < 1.0f) {
      double mass = 0.0;
      for (int i = 0; i < keep; ++i) {
        mass += probs[i] / sum;
        if (mass >= p.top_p) {
          keep = i + 1;
          break;
        }
      }
    }
    double kept = 0.0;
    for (int i = 0; i < keep; ++i) kept += probs[i];
    double u = CounterUniform(p.seed, step) * kept;
    int pick = keep - 1;
    for (int i = 0; i < keep; ++i) {
      u -= probs[i];
      if (u < 0.0) {
        pick = i;
        break;
      }
    }
    out.token = ids[pick];
  }
  if (p.logprobs || p.top_logprobs > 0) {
    const double mx = x[argmax];
    double sum = 0.0;
    for (int v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(x[v]) - mx);
    const double log_z = mx + std::log(sum);
    out.logprob = static_cast<float>(x[out.token] - log_z);
    std::vector<int> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    const int n = std::min(p.top_logprobs, vocab);
    std::partial_sort(order.begin(), order.begin() + n, order.end(), by_logit);
    for (int i = 0; i < n; ++i)
      out.top.emplace_back(order[i], static_cast<float>(x[order[i]] - log_z));
  }
  return out;
}

}  // namespace

SampledToken Sample(const float* logits, int vocab, const SamplingParams& params,
                    absl::Span<const int32_t> prompt, absl::Span<const int32_t> output) {
  return SampleAt(logits, vocab, params, prompt, output, output.size());
}

int SampleToken(const float* logits, int vocab, const SamplingParams& params, uint64_t step) {
  SamplingParams plain = params;
  plain.repetition_penalty = 1.0f;
  plain.presence_penalty = plain.frequency_penalty = 0.0f;
  plain.logprobs = false;
  plain.top_logprobs = 0;
  return SampleAt(logits, vocab, plain, {}, {}, step).token;
}

}  // namespace hymba::scheduler
