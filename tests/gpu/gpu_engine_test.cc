// The whole engine on CUDA against the engine on the CPU backend, on the tiny checkpoints:
// logits through prefill, chunked prefill, ring wrap-around and decode; greedy decoding; batch
// invariance and chunking on CUDA itself; bf16 precision against the fp32 reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "engine/hymba_engine.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

using Logits = std::vector<std::vector<float>>;  // [position][vocab]

absl::StatusOr<std::unique_ptr<HymbaEngine>> MakeEngine(const std::string& preset,
                                                        const std::string& device,
                                                        const std::string& precision, int slots,
                                                        bool kv_bf16 = false) {
  EngineOptions o;
  o.model_dir = testing::TinyModelDir(preset);
  o.backend.device = device;
  o.backend.precision = precision;
  o.backend.threads = 2;
  o.max_slots = slots;
  o.max_seq_len = 256;
  o.kv_cache_bf16 = kv_bf16;
  return HymbaEngine::Create(o);
}

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(3, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = d(rng);
  return t;
}

Logits Rows(const StepResult& r, int entry) {
  Logits out;
  for (int i = 0; i < r.row_count[entry]; ++i)
    out.emplace_back(r.row(r.row_begin[entry] + i), r.row(r.row_begin[entry] + i) + r.vocab_size);
  return out;
}

// Feeds `tokens` into `slot` in chunks of `chunk`, collecting every position's logits.
Logits RunChunked(HymbaEngine& e, int slot, const std::vector<int32_t>& tokens, int chunk) {
  Logits out;
  for (size_t pos = 0; pos < tokens.size(); pos += chunk) {
    BatchPlan plan;
    BatchEntry entry;
    entry.slot = slot;
    entry.reset_slot = pos == 0;
    entry.start_pos = static_cast<int>(pos);
    entry.tokens = absl::Span<const int32_t>(tokens.data() + pos,
                                             std::min<size_t>(chunk, tokens.size() - pos));
    entry.logits = LogitsMode::kAll;
    plan.entries.push_back(entry);
    auto r = e.Step(plan);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return out;
    const Logits rows = Rows(*r, 0);
    out.insert(out.end(), rows.begin(), rows.end());
  }
  return out;
}

float MaxAbsDiff(const Logits& a, const Logits& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = a.size() == b.size() ? 0.0f : INFINITY;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    for (size_t v = 0; v < a[i].size(); ++v) {
      const float d = std::fabs(a[i][v] - b[i][v]);
      m = std::isfinite(d) ? std::max(m, d) : INFINITY;
    }
  return m;
}

double RelativeRms(const Logits& a, const Logits& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    for (size_t v = 0; v < a[i].size(); ++v) {
      diff += (a[i][v] - b[i][v]) * (a[i][v] - b[i][v]);
      norm += b[i][v] * b[i][v];
    }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

class GpuEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto probe = MakeEngine(GetParam(), "cuda", "f32", 1);
    if (!probe.ok()) GTEST_SKIP() << "no CUDA engine here: " << probe.status();
  }
  std::unique_ptr<HymbaEngine> Make(const std::string& device, const std::string& precision,
                                    int slots, bool kv_bf16 = false) {
    auto e = MakeEngine(GetParam(), device, precision, slots, kv_bf16);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? std::move(e).value() : nullptr;
  }
};

TEST_P(GpuEngineTest, LogitsMatchCpuThroughPrefillWrapAndDecode) {
  for (bool kv_bf16 : {false, true}) {
    auto gpu = Make("cuda", "f32", 1, kv_bf16), cpu = Make("cpu", "f32", 1, kv_bf16);
    ASSERT_TRUE(gpu && cpu);
    const int W = cpu->config().sliding_window, V = cpu->config().vocab_size;
    const auto tokens = RandomTokens(2 * W + 5, V, 3);
    // A prompt longer than the window in one step, then token-by-token decode.
    const int prompt = W + 3;
    auto feed = [&](HymbaEngine& e) {
      std::vector<int32_t> head(tokens.begin(), tokens.begin() + prompt);
      Logits out = RunChunked(e, 0, head, prompt);
      for (size_t pos = prompt; pos < tokens.size(); ++pos) {
        BatchPlan plan;
        BatchEntry entry;
        entry.slot = 0;
        entry.start_pos = static_cast<int>(pos);
        entry.tokens = absl::Span<const int32_t>(&tokens[pos], 1);
        plan.entries.push_back(entry);
        auto r = e.Step(plan);
        EXPECT_TRUE(r.ok()) << r.status();
        if (!r.ok()) break;
        out.push_back(Rows(*r, 0)[0]);
      }
      return out;
    };
    const Logits a = feed(*gpu), b = feed(*cpu);
    // K/V rounded to bf16 on both sides can round differently by one unit where fp32 sums differ.
    EXPECT_LT(MaxAbsDiff(a, b), kv_bf16 ? 2e-2f : 2e-3f) << (kv_bf16 ? "bf16" : "f32") << " K/V";
  }
}

TEST_P(GpuEngineTest, GreedyDecodeAgreesWithCpu) {
  auto gpu = Make("cuda", "f32", 1), cpu = Make("cpu", "f32", 1);
  ASSERT_TRUE(gpu && cpu);
  const int V = cpu->config().vocab_size, steps = 24;
  auto greedy = [&](HymbaEngine& e) {
    std::vector<int32_t> tokens = RandomTokens(9, V, 21), generated;
    BatchPlan plan;
    BatchEntry entry;
    entry.slot = 0;
    entry.reset_slot = true;
    entry.tokens = tokens;
    plan.entries.push_back(entry);
    for (int step = 0; step < steps; ++step) {
      auto r = e.Step(plan);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      const float* row = r->last_row(0);
      generated.push_back(static_cast<int32_t>(std::max_element(row, row + V) - row));
      plan.entries[0].reset_slot = false;
      plan.entries[0].start_pos = e.SlotLength(0);
      plan.entries[0].tokens = absl::Span<const int32_t>(&generated.back(), 1);
    }
    return generated;
  };
  EXPECT_EQ(greedy(*gpu), greedy(*cpu));
}

TEST_P(GpuEngineTest, ChunkedPrefillMatchesFullPrefillOnCuda) {
  auto e = Make("cuda", "f32", 1);
  ASSERT_TRUE(e);
  const int W = e->config().sliding_window;
  const auto tokens = RandomTokens(3 * W + 5, e->config().vocab_size, 7);
  const Logits full = RunChunked(*e, 0, tokens, static_cast<int>(tokens.size()));
  for (int chunk : {1, W + 1, 2 * W + 3})
    EXPECT_LT(MaxAbsDiff(full, RunChunked(*e, 0, tokens, chunk)), 1e-4f) << "chunk " << chunk;
}

TEST_P(GpuEngineTest, BatchInvarianceOnCuda) {
  auto e = Make("cuda", "f32", 6);
  ASSERT_TRUE(e);
  const int W = e->config().sliding_window, V = e->config().vocab_size;
  const auto probe = RandomTokens(2 * W + 3, V, 11);
  const int split = W + 1;
  const Logits alone = RunChunked(*e, 0, probe, static_cast<int>(probe.size()));
  std::vector<std::vector<int32_t>> others;
  for (int k = 0; k < 5; ++k) others.push_back(RandomTokens(3 + 4 * k, V, 100 + k));
  for (int k = 0; k < 5; k += 2) RunChunked(*e, k + 1, others[k], 4);  // already running
  Logits packed;
  std::vector<std::vector<int32_t>> feeds(5);
  for (int stage = 0; stage < 2; ++stage) {
    BatchPlan plan;
    for (int k = 0; k < 5; ++k) {
      BatchEntry c;
      c.slot = k + 1;
      const bool running = k % 2 == 0 || stage == 1;
      c.reset_slot = !running;
      c.start_pos = running ? e->SlotLength(k + 1) : 0;
      feeds[k] = running ? RandomTokens(1 + k % 3, V, 300 + k + 10 * stage) : others[k];
      c.tokens = feeds[k];
      c.logits = LogitsMode::kLast;
      plan.entries.push_back(c);
    }
    BatchEntry p;
    p.slot = 0;
    p.reset_slot = stage == 0;
    p.start_pos = stage == 0 ? 0 : split;
    p.tokens = stage == 0 ? absl::Span<const int32_t>(probe.data(), split)
                          : absl::Span<const int32_t>(probe.data() + split, probe.size() - split);
    p.logits = LogitsMode::kAll;
    plan.entries.insert(plan.entries.begin() + 2, p);
    auto r = e->Step(plan);
    ASSERT_TRUE(r.ok()) << r.status();
    const Logits rows = Rows(*r, 2);
    packed.insert(packed.end(), rows.begin(), rows.end());
  }
  // cuBLAS may pick other kernels for other row counts: equal up to fp32 rounding.
  EXPECT_LT(MaxAbsDiff(alone, packed), 1e-4f);
}

TEST_P(GpuEngineTest, Bf16PrecisionStaysCloseToTheFp32Reference) {
  auto gpu = Make("cuda", "bf16", 1), cpu = Make("cpu", "f32", 1);
  ASSERT_TRUE(gpu && cpu);
  const auto tokens =
      RandomTokens(2 * cpu->config().sliding_window + 3, cpu->config().vocab_size, 5);
  const Logits a = RunChunked(*gpu, 0, tokens, 4), b = RunChunked(*cpu, 0, tokens, 4);
  EXPECT_LT(RelativeRms(a, b), 0.05);
}

INSTANTIATE_TEST_SUITE_P(TinyModels, GpuEngineTest,
                         ::testing::Values("tiny-a", "tiny-b", "tiny-c", "tiny-d", "tiny-e"));

}  // namespace
}  // namespace hymba::engine
