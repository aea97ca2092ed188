// The engine loop with a fake engine: concurrent submitters and cancellers, every stream ends
// exactly once, outputs match a request run alone, refusals arrive as the stream's status.
#include "scheduler/engine_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "tests/scheduler/fake_engine.h"

namespace hymba::scheduler {
namespace {

constexpr int kVocab = 61, kEos = 2;

SchedulerOptions LoopOptions(int slots, int queue = 1000) {
  SchedulerOptions o;
  o.max_slots = slots;
  o.max_seq_len = 256;
  o.max_batch_tokens = 32;
  o.prefill_chunk = 8;
  o.max_queue = queue;
  o.vocab_size = kVocab;
  o.eos_token_id = kEos;
  return o;
}

Request MakeRequest(RequestId id, int prompt_len, int max_tokens) {
  Request r;
  r.id = id;
  for (int i = 0; i < prompt_len; ++i) r.prompt.push_back(3 + (id * 31 + i * 7) % (kVocab - 3));
  r.stop.max_tokens = max_tokens;
  r.stop.ignore_eos = true;
  r.sampling.temperature = id % 2 ? 0.7f : 0.0f;
  r.sampling.seed = id;
  return r;
}

struct Collected {
  std::vector<int32_t> tokens;
  StreamItem last;
  int finished_items = 0;
};

Collected Drain(TokenStream& stream) {
  Collected c;
  StreamItem item;
  while (stream.Next(&item, absl::Seconds(30))) {
    c.tokens.insert(c.tokens.end(), item.tokens.begin(), item.tokens.end());
    c.finished_items += item.finished;
    c.last = item;
  }
  return c;
}

std::vector<int32_t> Alone(const Request& r) {
  testing::FakeEngine engine(1, 256, kVocab, kEos);
  EngineLoop loop(&engine, LoopOptions(1));
  return Drain(*loop.Submit(r)).tokens;
}

TEST(EngineLoopTest, ConcurrentSubmittersAndCancellers) {
  testing::FakeEngine engine(6, 256, kVocab, kEos);
  EngineLoop loop(&engine, LoopOptions(6));
  constexpr int kThreads = 4, kPerThread = 40;
  std::vector<Collected> results(kThreads * kPerThread);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPerThread; ++i) {
        const RequestId id = t * kPerThread + i + 1;
        auto stream = loop.Submit(MakeRequest(id, 1 + rng() % 20, 1 + rng() % 12));
        if (id % 4 == 0) loop.Cancel(id);
        results[id - 1] = Drain(*stream);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    const RequestId id = i + 1;
    EXPECT_EQ(results[i].finished_items, 1) << "request " << id;
    if (results[i].last.reason == FinishReason::kLength) {
      EXPECT_EQ(results[i].tokens.size(), static_cast<size_t>(results[i].last.completion_tokens));
    } else {
      EXPECT_EQ(results[i].last.reason, FinishReason::kCancelled) << "request " << id;
      EXPECT_EQ(id % 4, 0u);
    }
  }
  // Every slot is free again.
  for (int k = 0; k < 100 && loop.stats().free_slots != 6; ++k)
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(loop.stats().free_slots, 6);
}

TEST(EngineLoopTest, OutputsMatchARequestRunAlone) {
  testing::FakeEngine engine(4, 256, kVocab, kEos);
  EngineLoop loop(&engine, LoopOptions(4));
  std::vector<std::shared_ptr<TokenStream>> streams;
  std::vector<Request> requests;
  for (RequestId id = 1; id <= 12; ++id) {
    requests.push_back(MakeRequest(id, 1 + id * 3 % 17, 9));
    streams.push_back(loop.Submit(requests.back()));
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    Collected c = Drain(*streams[i]);
    EXPECT_EQ(c.tokens, Alone(requests[i])) << "request " << requests[i].id;
    EXPECT_EQ(c.last.reason, FinishReason::kLength);
  }
}

TEST(EngineLoopTest, RefusalsArriveAsTheStreamStatus) {
  testing::FakeEngine engine(1, 256, kVocab, kEos);
  EngineLoop loop(&engine, LoopOptions(1));
  Request bad = MakeRequest(1, 3, 3);
  bad.prompt[0] = kVocab + 5;
  Collected c = Drain(*loop.Submit(bad));
  EXPECT_EQ(c.last.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.last.status.message().find("prompt"), absl::string_view::npos);
  EXPECT_EQ(c.last.reason, FinishReason::kError);
}

}  // namespace
}  // namespace hymba::scheduler

namespace hymba::scheduler {
namespace {

TEST(EngineLoopStartTest, BuildsTheEngineOnTheLoopThreadOrReportsItsError) {
  auto failed = EngineLoop::Start(
      []() -> absl::StatusOr<std::unique_ptr<engine::Engine>> {
        return absl::NotFoundError("config.json: no such file");
      },
      [](const engine::EngineInfo&) { return LoopOptions(1); });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);

  std::thread::id built_on;
  auto loop = EngineLoop::Start(
      [&]() -> absl::StatusOr<std::unique_ptr<engine::Engine>> {
        built_on = std::this_thread::get_id();
        return std::unique_ptr<engine::Engine>(new testing::FakeEngine(2, 256, kVocab, kEos));
      },
      [](const engine::EngineInfo& info) {
        SchedulerOptions o = LoopOptions(info.max_slots);
        return o;
      });
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_NE(built_on, std::this_thread::get_id());
  EXPECT_EQ((*loop)->info().max_slots, 2);
  Collected c = Drain(*(*loop)->Submit(MakeRequest(1, 4, 5)));
  EXPECT_EQ(c.tokens.size(), 5u);
  EXPECT_EQ(c.last.reason, FinishReason::kLength);
}

}  // namespace
}  // namespace hymba::scheduler

namespace hymba::scheduler {
namespace {

class CountingSink : public StatsSink {
 public:
  void OnStep(const SchedulerStats& stats, double seconds) override {
    absl::MutexLock lock(&mu);
    ++steps;
    max_running = std::max(max_running, stats.running);
    EXPECT_GE(seconds, 0.0);
  }
  void OnEvent(const Event& e) override {
    absl::MutexLock lock(&mu);
    tokens += static_cast<int>(e.tokens.size());
    if (e.first_token) {
      ++first_tokens;
      EXPECT_GE(e.queue_seconds, 0.0);
      EXPECT_GE(e.token_seconds, e.queue_seconds);  // TTFT includes the queue
    }
    if (!e.tokens.empty()) {
      EXPECT_GE(e.token_seconds, 0.0);
    }
    if (e.finished) {
      ++finished;
      EXPECT_GE(e.total_seconds, e.queue_seconds);
      EXPECT_GE(e.queue_seconds, 0.0);
    }
  }
  absl::Mutex mu;
  int steps = 0, finished = 0, max_running = 0, tokens = 0, first_tokens = 0;
};

TEST(EngineLoopStatsTest, SinkSeesEveryStepTokenAndFinishedRequest) {
  testing::FakeEngine engine(3, 256, kVocab, kEos);
  CountingSink sink;
  {
    EngineLoop loop(&engine, LoopOptions(3));
    loop.SetStatsSink(&sink);
    std::vector<std::shared_ptr<TokenStream>> streams;
    for (RequestId id = 1; id <= 5; ++id) streams.push_back(loop.Submit(MakeRequest(id, 3, 4)));
    for (auto& s : streams) Drain(*s);
    loop.SetStatsSink(nullptr);
  }
  absl::MutexLock lock(&sink.mu);
  EXPECT_EQ(sink.finished, 5);
  EXPECT_EQ(sink.first_tokens, 5);
  EXPECT_EQ(sink.tokens, 5 * 4);
  EXPECT_EQ(sink.steps, engine.steps());
  EXPECT_GE(sink.max_running, 1);
  EXPECT_LE(sink.max_running, 3);
}

}  // namespace
}  // namespace hymba::scheduler
