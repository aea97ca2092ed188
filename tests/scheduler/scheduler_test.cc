// The scheduler's policy against a fake engine: budgets, chunking, admission, cancellation,
// deadlines, engine failures and batch-independence of outputs.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "tests/scheduler/fake_engine.h"

namespace hymba::scheduler {
namespace {

constexpr int kVocab = 97, kEos = 2;

SchedulerOptions Options(int slots = 8, int budget = 64, int chunk = 16) {
  SchedulerOptions o;
  o.max_slots = slots;
  o.max_seq_len = 512;
  o.max_batch_tokens = budget;
  o.prefill_chunk = chunk;
  o.max_queue = 100000;
  o.vocab_size = kVocab;
  o.eos_token_id = kEos;
  return o;
}

Request MakeRequest(RequestId id, int prompt_len, int max_tokens, uint32_t seed = 0) {
  Request r;
  r.id = id;
  std::mt19937 rng(seed + static_cast<uint32_t>(id) * 7919);
  for (int i = 0; i < prompt_len; ++i) r.prompt.push_back(3 + rng() % (kVocab - 3));
  r.stop.max_tokens = max_tokens;
  return r;
}

// Drives scheduler + fake engine like the engine loop; collects every event per request.
struct Harness {
  explicit Harness(const SchedulerOptions& o)
      : options(o),
        scheduler(o),
        engine(o.max_slots, o.max_seq_len, o.vocab_size, o.eos_token_id) {}

  void Step(absl::Time now) {
    ScheduledStep step = scheduler.Schedule(now);
    for (const Event& e : step.finished_early) Record(e);
    // Invariants of every plan.
    EXPECT_LE(step.plan.total_tokens(), options.max_batch_tokens);
    for (const auto& entry : step.plan.entries)
      EXPECT_LE(static_cast<int>(entry.tokens.size()), options.prefill_chunk);
    const SchedulerStats stats = scheduler.stats();
    EXPECT_EQ(stats.last_step_tokens, step.plan.total_tokens());
    EXPECT_EQ(stats.last_step_prompt_tokens + stats.last_step_decode_tokens,
              stats.last_step_tokens);
    if (step.empty()) return;
    auto result = engine.Step(step.plan);
    ASSERT_TRUE(result.ok() || result.status().message() == "injected device failure")
        << result.status();
    for (const Event& e : scheduler.Update(step, result)) Record(e);
  }
  void Record(const Event& e) {
    EXPECT_FALSE(finished.count(e.id)) << "request " << e.id << " ended twice";
    auto& toks = tokens[e.id];
    toks.insert(toks.end(), e.tokens.begin(), e.tokens.end());
    if (e.finished) finished[e.id] = e.reason;
  }

  SchedulerOptions options;
  Scheduler scheduler;
  testing::FakeEngine engine;
  std::map<RequestId, std::vector<int32_t>> tokens;
  std::map<RequestId, FinishReason> finished;
};

std::vector<int32_t> RunAlone(const Request& r) {
  Harness h(Options(1, 64, 16));
  EXPECT_TRUE(h.scheduler.AddRequest(r).ok());
  absl::Time now = absl::UnixEpoch();
  while (!h.scheduler.idle()) h.Step(now);
  return h.tokens[r.id];
}

TEST(SchedulerTest, RandomLoadEndsEveryRequestOnceWithoutLeaks) {
  Harness h(Options(8, 48, 12));
  std::mt19937 rng(1);
  absl::Time now = absl::UnixEpoch();
  std::map<RequestId, FinishReason> expected_kind;  // cancelled / deadline ones
  RequestId next = 1;
  const int kRequests = 10000;
  int step = 0;
  while (next <= kRequests || !h.scheduler.idle()) {
    for (int k = rng() % 4; k > 0 && next <= kRequests; --k) {
      Request r = MakeRequest(next, 1 + rng() % 40, 1 + rng() % 20);
      if (rng() % 10 == 0) r.deadline = now + absl::Milliseconds(rng() % 50);
      ASSERT_TRUE(h.scheduler.AddRequest(r).ok());
      ++next;
    }
    if (next > 1 && rng() % 3 == 0) h.scheduler.Abort(1 + rng() % (next - 1));
    h.Step(now);
    now += absl::Milliseconds(1);
    ASSERT_LT(++step, 1000000);
  }
  EXPECT_EQ(static_cast<int>(h.finished.size()), kRequests);
  EXPECT_EQ(h.scheduler.stats().free_slots, 8);
  std::set<FinishReason> reasons;
  for (const auto& [id, reason] : h.finished) reasons.insert(reason);
  EXPECT_TRUE(reasons.count(FinishReason::kCancelled));
  EXPECT_TRUE(reasons.count(FinishReason::kDeadline));
  EXPECT_TRUE(reasons.count(FinishReason::kLength));
  EXPECT_TRUE(reasons.count(FinishReason::kEosToken));
}

TEST(SchedulerTest, OutputsDoNotDependOnBatchCompanions) {
  Harness h(Options(8, 40, 7));
  std::vector<Request> requests;
  for (RequestId id = 1; id <= 16; ++id) {
    Request r = MakeRequest(id, 1 + (id * 5) % 31, 12);
    r.sampling.temperature = id % 2 ? 0.0f : 0.9f;
    r.sampling.seed = id;
    r.stop.ignore_eos = true;
    requests.push_back(r);
    ASSERT_TRUE(h.scheduler.AddRequest(r).ok());
  }
  absl::Time now = absl::UnixEpoch();
  while (!h.scheduler.idle()) h.Step(now);
  for (const Request& r : requests) {
    EXPECT_EQ(h.tokens[r.id], RunAlone(r)) << "request " << r.id;
    EXPECT_EQ(h.finished[r.id], FinishReason::kLength);
    EXPECT_EQ(h.tokens[r.id].size(), 12u);
  }
}

TEST(SchedulerTest, LongPromptIsNotStarvedByAFloodOfShortRequests) {
  Harness h(Options(4, 16, 8));
  absl::Time now = absl::UnixEpoch();
  RequestId id = 1;
  for (; id < 20; ++id) ASSERT_TRUE(h.scheduler.AddRequest(MakeRequest(id, 2, 3)).ok());
  const RequestId long_id = 1000;
  ASSERT_TRUE(h.scheduler.AddRequest(MakeRequest(long_id, 200, 2)).ok());
  int steps = 0;
  while (h.tokens[long_id].empty()) {
    for (int k = 0; k < 3; ++k) ASSERT_TRUE(h.scheduler.AddRequest(MakeRequest(id++, 2, 3)).ok());
    h.Step(now);
    ASSERT_LT(++steps, 200) << "the long prompt never got its first token";
  }
  // 19 short requests ahead of it need a few steps; then 200 tokens in chunks of at most 8.
  EXPECT_LT(steps, 19 * 4 + 200 / 8 + 10);
}

TEST(SchedulerTest, QueueLimitAndAdmissionErrorsNameTheField) {
  SchedulerOptions o = Options(1, 8, 8);
  o.max_queue = 2;
  Scheduler s(o);
  EXPECT_TRUE(s.AddRequest(MakeRequest(1, 3, 3)).ok());
  EXPECT_TRUE(s.AddRequest(MakeRequest(2, 3, 3)).ok());
  EXPECT_EQ(s.AddRequest(MakeRequest(3, 3, 3)).code(), absl::StatusCode::kResourceExhausted);
  Request empty = MakeRequest(4, 0, 3);
  EXPECT_NE(s.AddRequest(empty).message().find("prompt"), absl::string_view::npos);
  Request oov = MakeRequest(5, 3, 3);
  oov.prompt[1] = kVocab;
  EXPECT_NE(s.AddRequest(oov).message().find("prompt"), absl::string_view::npos);
  EXPECT_NE(s.AddRequest(MakeRequest(6, 3, 0)).message().find("max_tokens"),
            absl::string_view::npos);
  EXPECT_NE(s.AddRequest(MakeRequest(7, 500, 100)).message().find("max_tokens"),
            absl::string_view::npos);
  Request hot = MakeRequest(8, 3, 3);
  hot.sampling.top_p = 2.0f;
  EXPECT_NE(s.AddRequest(hot).message().find("top_p"), absl::string_view::npos);
}

TEST(SchedulerTest, AnEngineErrorFailsOnlyThatStepsRequests) {
  Harness h(Options(4, 64, 64));
  absl::Time now = absl::UnixEpoch();
  for (RequestId id = 1; id <= 2; ++id) {
    Request r = MakeRequest(id, 4, 6);
    r.stop.ignore_eos = true;
    ASSERT_TRUE(h.scheduler.AddRequest(r).ok());
  }
  h.Step(now);
  h.engine.FailNextStep();
  h.Step(now);  // requests 1 and 2 are in this step
  EXPECT_EQ(h.finished[1], FinishReason::kError);
  EXPECT_EQ(h.finished[2], FinishReason::kError);
  Request later = MakeRequest(3, 4, 6);
  later.stop.ignore_eos = true;
  ASSERT_TRUE(h.scheduler.AddRequest(later).ok());
  while (!h.scheduler.idle()) h.Step(now);
  EXPECT_EQ(h.finished[3], FinishReason::kLength);
  EXPECT_EQ(h.tokens[3], RunAlone(later));
  EXPECT_EQ(h.scheduler.stats().free_slots, 4);
}

TEST(SchedulerTest, PriorityRunsFirstAndStopTokensEndRequests) {
  Harness h(Options(1, 64, 64));
  ASSERT_TRUE(h.scheduler.AddRequest(MakeRequest(1, 3, 2)).ok());
  Request urgent = MakeRequest(2, 3, 2);
  urgent.priority = 5;
  ASSERT_TRUE(h.scheduler.AddRequest(urgent).ok());
  h.Step(absl::UnixEpoch());
  EXPECT_FALSE(h.tokens[2].empty());
  EXPECT_TRUE(h.tokens[1].empty());
  // A stop token: whatever the first sampled token is, make it a stop token.
  const std::vector<int32_t> first = RunAlone(MakeRequest(9, 5, 1));
  Request stopper = MakeRequest(9, 5, 10);
  stopper.stop.stop_token_ids = {first[0]};
  while (!h.scheduler.idle()) h.Step(absl::UnixEpoch());
  ASSERT_TRUE(h.scheduler.AddRequest(stopper).ok());
  while (!h.scheduler.idle()) h.Step(absl::UnixEpoch());
  if (first[0] != kEos) {
    EXPECT_EQ(h.finished[9], FinishReason::kStopToken);
  }
  EXPECT_EQ(h.tokens[9].size(), 1u);
}

TEST(SchedulerTest, LogprobsTravelWithTheirTokens) {
  Scheduler s(Options(2, 16, 8));
  testing::FakeEngine engine(2, 512, kVocab, kEos);
  Request r = MakeRequest(1, 5, 4);
  r.stop.ignore_eos = true;
  r.sampling.logprobs = true;
  r.sampling.top_logprobs = 3;
  ASSERT_TRUE(s.AddRequest(r).ok());
  int tokens = 0;
  while (!s.idle()) {
    ScheduledStep step = s.Schedule(absl::UnixEpoch());
    for (const Event& e : s.Update(step, engine.Step(step.plan))) {
      ASSERT_EQ(e.logprobs.size(), e.tokens.size());
      for (size_t i = 0; i < e.tokens.size(); ++i) {
        EXPECT_EQ(e.logprobs[i].token, e.tokens[i]);
        EXPECT_LE(e.logprobs[i].logprob, 0.0f);
        EXPECT_EQ(e.logprobs[i].top.size(), 3u);
        EXPECT_EQ(e.logprobs[i].top[0].first, e.tokens[i]);  // greedy picks the best
      }
      tokens += static_cast<int>(e.tokens.size());
    }
  }
  EXPECT_EQ(tokens, 4);
}

}  // namespace
}  // namespace hymba::scheduler
