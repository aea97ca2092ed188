#include "scheduler/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"

namespace hymba::scheduler {

absl::Status ValidateSamplingParams(const SamplingParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f)
    return absl::InvalidArgumentError(
        absl::StrCat("temperature = ", p.temperature, ": must be a finite value >= 0"));
  if (p.top_k < 0)
    return absl::InvalidArgumentError(absl::StrCat("top_k = ", p.top_k, ": must be >= 0"));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    return absl::InvalidArgumentError(absl::StrCat("top_p = ", p.top_p, ": must be in (0, 1]"));
  return absl::OkStatus();
}

double CounterUniform(uint64_t seed, uint64_t counter) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + counter + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
}

int SampleToken(const float* logits, int vocab, const SamplingParams& p, uint64_t step) {
  const int argmax = static_cast<int>(std::max_element(logits, logits + vocab) - logits);
  if (p.temperature == 0.0f || p.top_k == 1) return argmax;
  // Candidates by descending logit (ties by id), cut by top-k.
  std::vector<int> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  const int k = p.top_k > 0 ? std::min(p.top_k, vocab) : vocab;
  auto by_logit = [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), by_logit);
  ids.resize(k);
  std::vector<double> probs(k);
  const double top = logits[ids[0]];
  double sum = 0.0;
  for (int i = 0; i < k; ++i) {
    probs[i] = std::exp((logits[ids[i]] - top) / p.temperature);
    sum += probs[i];
  }
  // Top-p: the smallest prefix whose mass reaches top_p.
  int keep = k;
  if (p.top_p < 1.0f) {
    double mass = 0.0;
    for (int i = 0; i < k; ++i) {
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
  for (int i = 0; i < keep; ++i) {
    u -= probs[i];
    if (u < 0.0) return ids[i];
  }
  return ids[keep - 1];
}

}  // namespace hymba::scheduler
