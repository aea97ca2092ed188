// The scheduler and engine loop over the real CPU engine on tiny checkpoints (f32): batched
// requests produce exactly what each produces alone, for greedy and seeded sampling; a stop
// string split across tokens is caught and never reaches the client.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "engine/hymba_engine.h"
#include "engine/model/tokenizer.h"
#include "scheduler/engine_loop.h"
#include "scheduler/text_output.h"
#include "tests/testing/test_paths.h"

namespace hymba {
namespace {

using scheduler::EngineLoop;
using scheduler::Request;
using scheduler::StreamItem;

std::unique_ptr<engine::HymbaEngine> MakeEngine(int slots) {
  engine::EngineOptions o;
  o.model_dir = testing::TinyModelDir("tiny-e");
  o.backend.precision = "f32";
  o.backend.threads = 2;
  o.max_slots = slots;
  o.max_seq_len = 160;
  auto e = engine::HymbaEngine::Create(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(e).value();
}

scheduler::SchedulerOptions Options(const engine::Engine& e) {
  scheduler::SchedulerOptions o;
  o.max_slots = e.info().max_slots;
  o.max_seq_len = e.info().max_seq_len;
  o.max_batch_tokens = 64;  // forces chunked prefill interleaved with decodes
  o.prefill_chunk = 24;
  o.vocab_size = e.info().vocab_size;
  o.eos_token_id = e.info().eos_token_id;
  return o;
}

std::vector<int32_t> Collect(scheduler::TokenStream& stream) {
  std::vector<int32_t> tokens;
  StreamItem item;
  while (stream.Next(&item, absl::Seconds(60))) {
    EXPECT_TRUE(item.status.ok()) << item.status;
    tokens.insert(tokens.end(), item.tokens.begin(), item.tokens.end());
  }
  return tokens;
}

std::vector<Request> MixedRequests(int vocab, float temperature) {
  std::vector<Request> requests;
  std::mt19937 rng(3);
  for (scheduler::RequestId id = 1; id <= 16; ++id) {
    Request r;
    r.id = id;
    const int len = 1 + static_cast<int>(rng() % 100);  // 1 .. 3W+4 for W = 32
    for (int i = 0; i < len; ++i) r.prompt.push_back(3 + rng() % (vocab - 3));
    r.stop.max_tokens = 6 + id % 5;
    r.stop.ignore_eos = true;
    r.sampling.temperature = temperature;
    r.sampling.seed = 1000 + id;
    requests.push_back(r);
  }
  return requests;
}

void ExpectBatchedEqualsAlone(float temperature) {
  auto batched_engine = MakeEngine(16);
  auto alone_engine = MakeEngine(1);
  const auto requests = MixedRequests(batched_engine->info().vocab_size, temperature);
  std::vector<std::vector<int32_t>> batched;
  {
    EngineLoop loop(batched_engine.get(), Options(*batched_engine));
    std::vector<std::shared_ptr<scheduler::TokenStream>> streams;
    for (const Request& r : requests) streams.push_back(loop.Submit(r));
    for (auto& s : streams) batched.push_back(Collect(*s));
  }
  EngineLoop alone(alone_engine.get(), Options(*alone_engine));
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(batched[i], Collect(*alone.Submit(requests[i]))) << "request " << requests[i].id;
    EXPECT_EQ(static_cast<int>(batched[i].size()), requests[i].stop.max_tokens);
  }
}

TEST(RealEngineLoopTest, SixteenConcurrentGreedyRequestsEqualEachAlone) {
  ExpectBatchedEqualsAlone(0.0f);
}

TEST(RealEngineLoopTest, SeededSamplingIsTheSameAloneAndBatched) { ExpectBatchedEqualsAlone(0.9f); }

TEST(RealEngineLoopTest, TemperatureTowardsZeroEqualsGreedy) {
  auto e = MakeEngine(2);
  EngineLoop loop(e.get(), Options(*e));
  auto requests = MixedRequests(e->info().vocab_size, 0.0f);
  for (int i = 0; i < 4; ++i) {
    Request cold = requests[i];
    cold.id += 100;
    cold.sampling.temperature = 1e-4f;
    EXPECT_EQ(Collect(*loop.Submit(requests[i])), Collect(*loop.Submit(cold)));
  }
}

TEST(RealEngineLoopTest, StopStringAcrossTokensIsCaughtAndNeverLeaks) {
  auto e = MakeEngine(1);
  auto tokenizer = engine::Tokenizer::Load(testing::TinyModelDir("tiny-e"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EngineLoop loop(e.get(), Options(*e));
  Request r;
  r.id = 1;
  r.prompt = {5, 17, 42, 99, 7};
  r.stop.max_tokens = 40;
  r.stop.ignore_eos = true;
  // The free-running text, with each token's piece boundary.
  scheduler::TextOutput plain(**tokenizer, true, {});
  std::string text;
  std::vector<size_t> ends;
  for (int32_t t : Collect(*loop.Submit(r))) {
    text += plain.Push({t});
    ends.push_back(text.size());
  }
  // A stop string made of the last byte of one piece and the first byte of the next.
  size_t cut = std::string::npos;
  for (size_t k = 1; k + 1 < ends.size() && cut == std::string::npos; ++k)
    if (ends[k] > ends[k - 1] && ends[k + 1] > ends[k]) cut = ends[k];
  ASSERT_NE(cut, std::string::npos) << "no two adjacent non-empty pieces in: " << text;
  const std::string stop = text.substr(cut - 1, 2);
  const std::string expect = text.substr(0, text.find(stop));

  r.id = 2;
  auto stream = loop.Submit(r);
  scheduler::TextOutput out(**tokenizer, true, {stop});
  std::string emitted;
  StreamItem item;
  while (stream->Next(&item, absl::Seconds(60))) {
    emitted += out.Push(item.tokens);
    EXPECT_EQ(emitted.find(stop), std::string::npos);
    if (out.stopped()) loop.Cancel(r.id);
  }
  emitted += out.Finish();
  EXPECT_TRUE(out.stopped());
  EXPECT_EQ(out.stop_string(), stop);
  EXPECT_EQ(emitted, expect);
}

}  // namespace
}  // namespace hymba
