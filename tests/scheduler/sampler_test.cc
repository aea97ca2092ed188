#include "scheduler/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

namespace hymba::scheduler {
namespace {

std::vector<float> RandomLogits(int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> v(vocab);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(SamplerTest, GreedyIsArgmax) {
  for (uint32_t s = 0; s < 20; ++s) {
    auto logits = RandomLogits(100, s);
    const int argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(SampleToken(logits.data(), 100, SamplingParams{}, s), argmax);
    SamplingParams k1;
    k1.temperature = 1.0f;
    k1.top_k = 1;
    EXPECT_EQ(SampleToken(logits.data(), 100, k1, s), argmax);
  }
}

TEST(SamplerTest, TopKNeverLeavesTheKBest) {
  auto logits = RandomLogits(200, 3);
  std::vector<int> order(200);
  for (int i = 0; i < 200; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  SamplingParams p;
  p.temperature = 5.0f;  // flat, so outside picks would show up
  p.top_k = 7;
  p.seed = 42;
  std::map<int, int> seen;
  for (uint64_t step = 0; step < 2000; ++step) seen[SampleToken(logits.data(), 200, p, step)]++;
  for (const auto& [id, count] : seen)
    EXPECT_NE(std::find(order.begin(), order.begin() + 7, id), order.begin() + 7) << id;
  EXPECT_GT(seen.size(), 3u);  // it does sample, not just argmax
}

TEST(SamplerTest, TopPKeepsTheSmallestNucleus) {
  // Probabilities 0.5, 0.3, 0.2 (temperature 1): top_p 0.6 keeps the first two only.
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.6f;
  std::map<int, int> seen;
  for (uint64_t step = 0; step < 3000; ++step) seen[SampleToken(logits.data(), 3, p, step)]++;
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_NEAR(seen[0] / 3000.0, 0.5 / 0.8, 0.05);
}

TEST(SamplerTest, SeededDrawsDependOnlyOnSeedAndStep) {
  auto logits = RandomLogits(50, 9);
  SamplingParams p;
  p.temperature = 4.0f;  // flat enough that different seeds disagree somewhere
  p.seed = 1234;
  std::vector<int> a, b;
  for (uint64_t step = 0; step < 64; ++step) a.push_back(SampleToken(logits.data(), 50, p, step));
  for (int step = 63; step >= 0; --step)
    b.insert(b.begin(), SampleToken(logits.data(), 50, p, step));
  EXPECT_EQ(a, b);
  p.seed = 1235;
  std::vector<int> c;
  for (uint64_t step = 0; step < 64; ++step) c.push_back(SampleToken(logits.data(), 50, p, step));
  EXPECT_NE(a, c);
}

TEST(SamplerTest, ValidationNamesTheParameter) {
  SamplingParams p;
  p.temperature = -1.0f;
  EXPECT_NE(ValidateSamplingParams(p, 100).message().find("temperature"), absl::string_view::npos);
  p = SamplingParams{};
  p.temperature = NAN;
  EXPECT_FALSE(ValidateSamplingParams(p, 100).ok());
  p = SamplingParams{};
  p.top_p = 0.0f;
  EXPECT_NE(ValidateSamplingParams(p, 100).message().find("top_p"), absl::string_view::npos);
  p = SamplingParams{};
  p.top_p = 1.5f;
  EXPECT_FALSE(ValidateSamplingParams(p, 100).ok());
  p = SamplingParams{};
  p.top_k = -2;
  EXPECT_NE(ValidateSamplingParams(p, 100).message().find("top_k"), absl::string_view::npos);
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}, 100).ok());
}

}  // namespace
}  // namespace hymba::scheduler

namespace hymba::scheduler {
namespace {

TEST(SamplerPenaltyTest, PenaltiesBiasAndMinP) {
  // Token 0 best, 1 second; repetition penalty on 0 (seen in the prompt) makes 1 win.
  std::vector<float> logits = {3.0f, 2.0f, -1.0f, 0.5f};
  SamplingParams p;
  const std::vector<int32_t> prompt = {0}, none = {};
  EXPECT_EQ(Sample(logits.data(), 4, p, prompt, none).token, 0);
  p.repetition_penalty = 2.0f;  // 3 / 2 = 1.5 < 2
  EXPECT_EQ(Sample(logits.data(), 4, p, prompt, none).token, 1);
  p = SamplingParams{};
  p.frequency_penalty = 0.6f;  // token 0 appears twice in the output: 3 - 1.2 = 1.8 < 2
  const std::vector<int32_t> output = {0, 0};
  EXPECT_EQ(Sample(logits.data(), 4, p, none, output).token, 1);
  p = SamplingParams{};
  p.presence_penalty = 0.9f;  // once: 3 - 0.9 = 2.1 > 2, still 0
  EXPECT_EQ(Sample(logits.data(), 4, p, none, output).token, 0);
  p = SamplingParams{};
  p.logit_bias = {{3, 5.0f}};
  EXPECT_EQ(Sample(logits.data(), 4, p, none, none).token, 3);
  // min_p 0.5 at temperature 1: only tokens with p >= 0.5·p(best) survive: 0 and 1 (e^-1 > 0.5)
  p = SamplingParams{};
  p.temperature = 1.0f;
  p.min_p = 0.5f;
  for (uint64_t s = 0; s < 200; ++s) {
    p.seed = s;
    EXPECT_LE(Sample(logits.data(), 4, p, none, none).token, 1);
  }
}

TEST(SamplerPenaltyTest, LogprobsAreNormalizedAndTopIsSorted) {
  std::vector<float> logits = {1.0f, 2.0f, 0.0f, 2.0f};
  SamplingParams p;
  p.logprobs = true;
  p.top_logprobs = 3;
  SampledToken t = Sample(logits.data(), 4, p, {}, {});
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_EQ(t.token, 1);  // ties go to the lower id
  EXPECT_NEAR(t.logprob, 2.0 - std::log(z), 1e-5);
  ASSERT_EQ(t.top.size(), 3u);
  EXPECT_EQ(t.top[0].first, 1);
  EXPECT_EQ(t.top[1].first, 3);
  EXPECT_EQ(t.top[2].first, 0);
  EXPECT_NEAR(t.top[2].second, 1.0 - std::log(z), 1e-5);
}

TEST(SamplerPenaltyTest, ValidationOfTheNewParameters) {
  SamplingParams p;
  p.min_p = 1.5f;
  EXPECT_NE(ValidateSamplingParams(p, 100).message().find("min_p"), absl::string_view::npos);
  p = SamplingParams{};
  p.repetition_penalty = 0.0f;
  EXPECT_NE(ValidateSamplingParams(p, 100).message().find("repetition_penalty"),
            absl::string_view::npos);
  p = SamplingParams{};
  p.frequency_penalty = 3.0f;
  EXPECT_NE(ValidateSamplingParams(p, 100).message().find("frequency_penalty"),
            absl::string_view::npos);
  p = SamplingParams{};
  p.top_logprobs = 21;
  EXPECT_NE(ValidateSamplingParams(p, 100).message().find("top_logprobs"), absl::string_view::npos);
  p = SamplingParams{};
  p.logit_bias = {{10, 1.0f}};
  EXPECT_NE(ValidateSamplingParams(p, 10).message().find("logit_bias"), absl::string_view::npos);
}

}  // namespace
}  // namespace hymba::scheduler
