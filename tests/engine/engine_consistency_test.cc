// The engine against itself on tiny checkpoints (f32 precision): one full-prompt prefill,
// token-by-token decode and chunked prefill agree; a sequence's logits do not depend on what else
// is packed in its batch; the shared meta prefix equals recomputing the meta tokens.
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

std::unique_ptr<HymbaEngine> MakeEngine(const std::string& preset, int slots,
                                        bool recompute = false, bool kv_bf16 = false) {
  EngineOptions o;
  o.model_dir = testing::TinyModelDir(preset);
  o.backend.device = "cpu";  // tests/gpu holds the CUDA counterparts (other tolerances)
  o.backend.precision = "f32";
  o.backend.threads = 2;
  o.max_slots = slots;
  o.max_seq_len = 256;
  o.recompute_meta_per_sequence = recompute;
  o.kv_cache_bf16 = kv_bf16;
  auto e = HymbaEngine::Create(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? std::move(e).value() : nullptr;
}

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(3, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = d(rng);
  return t;
}

// Feeds `tokens` into `slot` in chunks of `chunk`, collecting every position's logits.
Logits RunChunked(HymbaEngine& e, int slot, const std::vector<int32_t>& tokens, int chunk) {
  Logits out;
  for (size_t pos = 0; pos < tokens.size(); pos += chunk) {
    const size_t n = std::min<size_t>(chunk, tokens.size() - pos);
    BatchPlan plan;
    BatchEntry entry;
    entry.slot = slot;
    entry.reset_slot = pos == 0;
    entry.start_pos = static_cast<int>(pos);
    entry.tokens = absl::Span<const int32_t>(tokens.data() + pos, n);
    entry.logits = LogitsMode::kAll;
    plan.entries.push_back(entry);
    auto r = e.Step(plan);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return out;
    for (int i = 0; i < r->row_count[0]; ++i)
      out.emplace_back(r->row(r->row_begin[0] + i), r->row(r->row_begin[0] + i) + r->vocab_size);
  }
  return out;
}

float MaxAbsDiff(const Logits& a, const Logits& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0.0f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    for (size_t v = 0; v < a[i].size(); ++v) m = std::max(m, std::fabs(a[i][v] - b[i][v]));
  return m;
}

class EngineConsistencyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineConsistencyTest, ChunkedPrefillAndDecodeMatchFullPrefill) {
  auto e = MakeEngine(GetParam(), 1);
  ASSERT_NE(e, nullptr);
  const int W = e->config().sliding_window;
  const auto tokens = RandomTokens(3 * W + 5, e->config().vocab_size, 7);
  const Logits full = RunChunked(*e, 0, tokens, static_cast<int>(tokens.size()));
  ASSERT_EQ(full.size(), tokens.size());
  for (int chunk : {1, 2, 3, W, W + 1, 2 * W + 3}) {
    const Logits chunked = RunChunked(*e, 0, tokens, chunk);
    EXPECT_LT(MaxAbsDiff(full, chunked), 1e-5f) << "chunk " << chunk << " of " << tokens.size();
  }
}

TEST_P(EngineConsistencyTest, BatchInvariance) {
  auto e = MakeEngine(GetParam(), 8);
  ASSERT_NE(e, nullptr);
  const int W = e->config().sliding_window, V = e->config().vocab_size;
  // The probe sequence alone, in slot 0.
  const auto probe = RandomTokens(2 * W + 3, V, 11);
  const int split = W + 1;
  std::vector<int32_t> head(probe.begin(), probe.begin() + split),
      tail(probe.begin() + split, probe.end());
  const Logits alone = RunChunked(*e, 0, probe, static_cast<int>(probe.size()));

  // Seven companions in different phases: some prefilled earlier, some starting now.
  std::vector<std::vector<int32_t>> others;
  for (int k = 0; k < 7; ++k) others.push_back(RandomTokens(3 + 5 * k, V, 100 + k));
  for (int k = 0; k < 7; k += 2) RunChunked(*e, k + 1, others[k], 4);  // already running
  // Step 1: the probe's first part with companions; step 2: its second part with companions.
  Logits packed;
  for (int stage = 0; stage < 2; ++stage) {
    BatchPlan plan;
    std::vector<std::vector<int32_t>> feeds(7);
    for (int k = 0; k < 7; ++k) {
      BatchEntry c;
      c.slot = k + 1;
      const bool running = k % 2 == 0 || stage == 1;
      c.reset_slot = !running;
      c.start_pos = running ? e->SlotLength(k + 1) : 0;
      feeds[k] = running ? RandomTokens(1 + k % 3, V, 300 + k) : others[k];
      c.tokens = feeds[k];
      c.logits = k % 3 == 0 ? LogitsMode::kAll : LogitsMode::kLast;
      plan.entries.push_back(c);
    }
    BatchEntry p;
    p.slot = 0;
    p.reset_slot = stage == 0;
    p.start_pos = stage == 0 ? 0 : split;
    p.tokens = stage == 0 ? absl::Span<const int32_t>(head) : absl::Span<const int32_t>(tail);
    p.logits = LogitsMode::kAll;
    plan.entries.insert(plan.entries.begin() + 3, p);
    auto r = e->Step(plan);
    ASSERT_TRUE(r.ok()) << r.status();
    for (int i = 0; i < r->row_count[3]; ++i)
      packed.emplace_back(r->row(r->row_begin[3] + i), r->row(r->row_begin[3] + i) + V);
  }
  EXPECT_LT(MaxAbsDiff(alone, packed), 1e-5f);
}

// Resetting a slot from the meta-token snapshot (conv and SSM state) equals running the meta
// tokens again in that slot. (Both engines compute the shared prefix K/V with the same meta pass;
// the reference test checks that pass against an independent recomputation of every token.)
TEST_P(EngineConsistencyTest, MetaSnapshotEqualsRecomputingTheMetaTokens) {
  auto shared = MakeEngine(GetParam(), 2);
  auto recomputed = MakeEngine(GetParam(), 2, /*recompute=*/true);
  ASSERT_NE(shared, nullptr);
  ASSERT_NE(recomputed, nullptr);
  const auto tokens =
      RandomTokens(2 * shared->config().sliding_window + 1, shared->config().vocab_size, 5);
  // Slot 1 is used once first: its reset must fully restore the meta state.
  RunChunked(*shared, 1, RandomTokens(9, shared->config().vocab_size, 6), 3);
  RunChunked(*recomputed, 1, RandomTokens(9, shared->config().vocab_size, 6), 3);
  const Logits a = RunChunked(*shared, 1, tokens, 4);
  const Logits b = RunChunked(*recomputed, 1, tokens, 4);
  EXPECT_LT(MaxAbsDiff(a, b), 1e-5f);
}

// The bf16 K/V cache only rounds K and V: logits stay within a few percent (relative RMS) of the
// fp32 cache, through prefill, ring wrap-around and decode.
TEST_P(EngineConsistencyTest, Bf16KvCacheStaysCloseToFp32) {
  auto f32 = MakeEngine(GetParam(), 1);
  auto bf16 = MakeEngine(GetParam(), 1, false, /*kv_bf16=*/true);
  ASSERT_NE(f32, nullptr);
  ASSERT_NE(bf16, nullptr);
  const auto tokens =
      RandomTokens(3 * f32->config().sliding_window + 2, f32->config().vocab_size, 9);
  const Logits a = RunChunked(*f32, 0, tokens, 5), b = RunChunked(*bf16, 0, tokens, 5);
  ASSERT_EQ(a.size(), b.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t v = 0; v < a[i].size(); ++v) {
      diff += (a[i][v] - b[i][v]) * (a[i][v] - b[i][v]);
      norm += a[i][v] * a[i][v];
    }
  EXPECT_LT(std::sqrt(diff / norm), 0.05);
  EXPECT_GT(std::sqrt(diff / norm), 0.0);  // the cache really is bf16
}

INSTANTIATE_TEST_SUITE_P(TinyModels, EngineConsistencyTest,
                         ::testing::Values("tiny-a", "tiny-b", "tiny-c", "tiny-d", "tiny-e"));

}  // namespace
}  // namespace hymba::engine
