// Malformed plans are refused with InvalidArgument naming the field, and leave every slot as it
// was; bad engine options and devices fail clearly.
#include <gtest/gtest.h>

#include <vector>

#include "engine/hymba_engine.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

EngineOptions Options() {
  EngineOptions o;
  o.model_dir = testing::TinyModelDir("tiny-a");
  o.backend.precision = "f32";
  o.backend.threads = 1;
  o.max_slots = 2;
  o.max_seq_len = 16;
  return o;
}

BatchPlan OneEntry(int slot, bool reset, int start, const std::vector<int32_t>& tokens) {
  BatchPlan plan;
  BatchEntry e;
  e.slot = slot;
  e.reset_slot = reset;
  e.start_pos = start;
  e.tokens = tokens;
  plan.entries.push_back(e);
  return plan;
}

TEST(EngineValidationTest, RejectsMalformedPlansAndKeepsState) {
  auto engine = HymbaEngine::Create(Options());
  ASSERT_TRUE(engine.ok()) << engine.status();
  HymbaEngine& e = **engine;
  const std::vector<int32_t> prompt = {5, 6, 7}, next = {8};
  ASSERT_TRUE(e.Step(OneEntry(0, true, 0, prompt)).ok());

  struct Case {
    BatchPlan plan;
    std::string needle;
  };
  const std::vector<int32_t> oov = {e.config().vocab_size}, negative = {-1}, empty = {};
  const std::vector<int32_t> too_long(20, 5);
  std::vector<Case> cases = {
      {OneEntry(2, true, 0, next), "entries[0].slot"},
      {OneEntry(-1, true, 0, next), "entries[0].slot"},
      {OneEntry(0, false, 1, next), "entries[0].start_pos"},
      {OneEntry(0, false, 3, oov), "outside the vocabulary"},
      {OneEntry(0, false, 3, negative), "entries[0].tokens"},
      {OneEntry(0, false, 3, empty), "entries[0].tokens"},
      {OneEntry(1, true, 0, too_long), "max_seq_len"},
  };
  BatchPlan dup = OneEntry(1, true, 0, next);
  dup.entries.push_back(dup.entries[0]);
  cases.push_back({dup, "used twice"});
  for (const Case& c : cases) {
    auto r = e.Step(c.plan);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status();
  }
  EXPECT_EQ(e.SlotLength(0), 3);

  // The slot continues exactly as a fresh engine fed the same tokens.
  auto after = e.Step(OneEntry(0, false, 3, next));
  ASSERT_TRUE(after.ok()) << after.status();
  auto fresh = HymbaEngine::Create(Options());
  ASSERT_TRUE(fresh.ok());
  const std::vector<int32_t> all = {5, 6, 7, 8};
  auto expect = (*fresh)->Step(OneEntry(0, true, 0, all));
  ASSERT_TRUE(expect.ok());
  for (int v = 0; v < e.config().vocab_size; ++v)
    EXPECT_NEAR(after->last_row(0)[v], expect->last_row(0)[v], 1e-5f);
}

TEST(EngineValidationTest, BadOptionsFailClearly) {
  EngineOptions o = Options();
  o.max_slots = 0;
  EXPECT_EQ(HymbaEngine::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.backend.precision = "fp8";
  auto r = HymbaEngine::Create(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("precision"), std::string::npos);
  o = Options();
  o.backend.device = "tpu";
  EXPECT_EQ(HymbaEngine::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.model_dir = "/nonexistent/model";
  EXPECT_FALSE(HymbaEngine::Create(o).ok());
  // fp16 prefill GEMMs belong to the CPU's bf16 precision.
  o = Options();
  o.backend.device = "cpu";
  o.backend.precision = "f32";
  o.backend.prefill_gemm_fp16 = true;
  r = HymbaEngine::Create(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("prefill_gemm"), std::string::npos) << r.status();
  o.backend.device = "cuda";
  o.backend.precision = "bf16";
  r = HymbaEngine::Create(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("CPU"), std::string::npos) << r.status();
}

TEST(EngineValidationTest, CudaWithoutGpuOrBuildIsUnavailableNotACrash) {
  if (CudaDevicePresent()) GTEST_SKIP() << "a GPU is present (tests/gpu covers the CUDA engine)";
  EngineOptions o = Options();
  o.backend.device = "cuda";
  auto r = HymbaEngine::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().code() == absl::StatusCode::kUnimplemented ||
              r.status().code() == absl::StatusCode::kNotFound)
      << r.status();
}

}  // namespace
}  // namespace hymba::engine
