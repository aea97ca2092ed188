// HymbaEngine::CopySlot forks a sequence: the copy continues exactly as the original would, and as
// the same tokens fed to a fresh slot, through ring wrap-around; bad slots are refused.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/hymba_engine.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

std::vector<float> Feed(HymbaEngine& e, int slot, const std::vector<int32_t>& tokens, bool reset) {
  BatchPlan plan;
  BatchEntry entry;
  entry.slot = slot;
  entry.reset_slot = reset;
  entry.start_pos = reset ? 0 : e.SlotLength(slot);
  entry.tokens = tokens;
  entry.logits = LogitsMode::kAll;
  plan.entries.push_back(entry);
  auto r = e.Step(plan);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->logits : std::vector<float>();
}

TEST(CopySlotTest, ForkContinuesLikeTheOriginal) {
  for (const char* preset : {"tiny-a", "tiny-b", "tiny-d"}) {
    EngineOptions o;
    o.model_dir = testing::TinyModelDir(preset);
    o.backend.device = "cpu";
    o.backend.precision = "f32";
    o.backend.threads = 2;
    o.max_slots = 3;
    o.max_seq_len = 128;
    for (bool kv_bf16 : {false, true}) {
      o.kv_cache_bf16 = kv_bf16;
      auto e = HymbaEngine::Create(o);
      ASSERT_TRUE(e.ok()) << e.status();
      const int W = (*e)->config().sliding_window, V = (*e)->config().vocab_size;
      std::mt19937 rng(3);
      std::uniform_int_distribution<int> d(3, V - 1);
      std::vector<int32_t> prompt(W + 3), more(W + 2);
      for (auto& t : prompt) t = d(rng);
      for (auto& t : more) t = d(rng);
      Feed(**e, 0, prompt, true);
      ASSERT_TRUE((*e)->CopySlot(0, 2).ok());
      EXPECT_EQ((*e)->SlotLength(2), static_cast<int>(prompt.size()));
      const auto fork = Feed(**e, 2, more, false);
      const auto original = Feed(**e, 0, more, false);
      Feed(**e, 1, prompt, true);
      const auto fresh = Feed(**e, 1, more, false);
      ASSERT_EQ(fork.size(), original.size());
      for (size_t i = 0; i < fork.size(); ++i) {
        ASSERT_EQ(fork[i], original[i]) << preset << " at " << i;
        ASSERT_NEAR(fork[i], fresh[i], 1e-5) << preset << " at " << i;
      }
      EXPECT_FALSE((*e)->CopySlot(1, 1).ok());
      EXPECT_FALSE((*e)->CopySlot(0, 3).ok());
      EXPECT_FALSE((*e)->CopySlot(-1, 0).ok());
    }
  }
}

}  // namespace
}  // namespace hymba::engine
