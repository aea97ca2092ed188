#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/hymba_weights.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/checkpoint_writer.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

using json = nlohmann::json;
using ::hymba::testing::TensorSpec;
using Shape = std::vector<int64_t>;

// A checkpoint written to a fresh directory and loaded back.
class WeightsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("weights"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `tensors` for `config`, opens the archive and loads the weights.
  absl::StatusOr<HymbaWeights> Load(const json& config, const std::vector<TensorSpec>& tensors,
                                    int num_shards = 1) {
    if (num_shards == 1) {
      EXPECT_TRUE(testing::WriteCheckpoint(dir_, config, tensors).ok());
    } else {
      EXPECT_TRUE(testing::WriteFile(dir_ + "/config.json", config.dump()).ok());
      EXPECT_TRUE(testing::WriteShardedSafetensors(dir_, tensors, num_shards).ok());
    }
    absl::StatusOr<HymbaConfig> parsed = HymbaConfig::Load(dir_);
    if (!parsed.ok()) return parsed.status();
    config_ = *parsed;
    absl::StatusOr<std::unique_ptr<SafetensorsArchive>> archive = SafetensorsArchive::Open(dir_);
    if (!archive.ok()) return archive.status();
    archive_ = std::move(*archive);
    return HymbaWeights::Load(*archive_, config_);
  }

  absl::StatusOr<HymbaWeights> Load(const json& config) {
    return Load(config, testing::HymbaCheckpointTensors(config, "BF16"));
  }

  std::string dir_;
  HymbaConfig config_;
  std::unique_ptr<SafetensorsArchive> archive_;
};

TEST_F(WeightsTest, LoadsTinyCheckpointWithExpectedShapes) {
  absl::StatusOr<HymbaWeights> w = Load(testing::TinyHymbaConfigJson());
  ASSERT_TRUE(w.ok()) << w.status();
  // H 32, I 64, dq 8, dv 16, kvh 2, N 4, R 2, F 48, V 64, M 3.
  EXPECT_EQ(w->embed_tokens->shape, (Shape{64, 32}));
  EXPECT_EQ(w->memory_tokens->shape, (Shape{3, 32}));
  EXPECT_EQ(w->final_layernorm->shape, (Shape{32}));
  EXPECT_EQ(w->lm_head, w->embed_tokens);  // tied and absent
  ASSERT_EQ(w->layers.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    const HymbaLayerWeights& l = w->layers[i];
    const bool consumer = i == 2 || i == 4;
    EXPECT_EQ(l.in_proj->shape, (Shape{consumer ? 32 + 128 : 32 + 16 + 32 + 128, 32}));
    EXPECT_EQ(l.in_proj->name, "model.layers." + std::to_string(i) + ".mamba.in_proj.weight");
    EXPECT_EQ(l.in_proj_bias, nullptr);
    EXPECT_EQ(l.out_proj_bias, nullptr);
    EXPECT_EQ(l.conv1d_weight->shape, (Shape{64, 1, 4}));
    EXPECT_EQ(l.conv1d_bias->shape, (Shape{64}));
    EXPECT_EQ(l.x_proj->shape, (Shape{2 + 8, 64}));
    EXPECT_EQ(l.dt_proj_weight->shape, (Shape{64, 2}));
    EXPECT_EQ(l.dt_proj_bias->shape, (Shape{64}));
    EXPECT_EQ(l.a_log->shape, (Shape{64, 4}));
    EXPECT_EQ(l.d->shape, (Shape{64}));
    EXPECT_EQ(l.dt_layernorm->shape, (Shape{2}));
    EXPECT_EQ(l.b_layernorm->shape, (Shape{4}));
    EXPECT_EQ(l.c_layernorm->shape, (Shape{4}));
    EXPECT_EQ(l.pre_avg_layernorm1->shape, (Shape{64}));
    EXPECT_EQ(l.pre_avg_layernorm2->shape, (Shape{64}));
    EXPECT_EQ(l.out_proj->shape, (Shape{32, 64}));
    EXPECT_EQ(l.input_layernorm->shape, (Shape{32}));
    EXPECT_EQ(l.pre_moe_layernorm->shape, (Shape{32}));
    EXPECT_EQ(l.gate_proj->shape, (Shape{48, 32}));
    EXPECT_EQ(l.up_proj->shape, (Shape{48, 32}));
    EXPECT_EQ(l.down_proj->shape, (Shape{32, 48}));
  }
}

TEST_F(WeightsTest, ViewsPointAtTheWrittenValuesInEveryDType) {
  const json config = testing::TinyHymbaConfigJson();
  for (const char* dtype : {"F32", "F16", "BF16"}) {
    SCOPED_TRACE(dtype);
    const std::vector<TensorSpec> tensors = testing::HymbaCheckpointTensors(config, dtype, 5);
    absl::StatusOr<HymbaWeights> w = Load(config, tensors);
    ASSERT_TRUE(w.ok()) << w.status();
    for (const TensorSpec& spec : tensors) {
      const TensorView* view = archive_->Find(spec.name);
      ASSERT_NE(view, nullptr) << spec.name;
      std::vector<float> values(view->numel());
      ConvertToF32(view->dtype, view->data, values.size(), values.data());
      ASSERT_EQ(values, testing::DecodeTensor(spec)) << spec.name;
    }
    EXPECT_EQ(w->layers[3].d, archive_->Find("model.layers.3.mamba.D.0"));
  }
}

TEST_F(WeightsTest, LoadsShardedCheckpoint) {
  const json config = testing::TinyHymbaConfigJson();
  absl::StatusOr<HymbaWeights> w =
      Load(config, testing::HymbaCheckpointTensors(config, "BF16"), /*num_shards=*/3);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->layers.size(), 6u);
  EXPECT_NE(w->layers[5].down_proj, nullptr);
}

TEST_F(WeightsTest, UntiedEmbeddingsNeedLmHead) {
  json config = testing::TinyHymbaConfigJson();
  config["tie_word_embeddings"] = false;
  std::vector<TensorSpec> tensors = testing::HymbaCheckpointTensors(config, "BF16");
  absl::StatusOr<HymbaWeights> w = Load(config, tensors);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_NE(w->lm_head, w->embed_tokens);
  EXPECT_EQ(w->lm_head->name, "lm_head.weight");

  tensors.pop_back();  // lm_head.weight
  w = Load(config, tensors);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w.status().message(), "missing tensor lm_head.weight");
}

TEST_F(WeightsTest, TiedEmbeddingsUseLmHeadWhenPresent) {
  json untied = testing::TinyHymbaConfigJson();
  untied["tie_word_embeddings"] = false;
  const std::vector<TensorSpec> tensors = testing::HymbaCheckpointTensors(untied, "BF16");
  absl::StatusOr<HymbaWeights> w = Load(testing::TinyHymbaConfigJson(), tensors);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->lm_head->name, "lm_head.weight");
}

TEST_F(WeightsTest, OptionalTensorsFollowTheConfig) {
  json config = testing::TinyHymbaConfigJson();
  config["mamba_proj_bias"] = true;
  config["mamba_conv_bias"] = false;
  config["mamba_inner_layernorms"] = false;
  config["mlp_hidden_act"] = "relu2";
  config["num_memory_tokens"] = 0;
  absl::StatusOr<HymbaWeights> w = Load(config);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->memory_tokens, nullptr);
  for (const HymbaLayerWeights& l : w->layers) {
    EXPECT_EQ(l.in_proj_bias->shape, (Shape{l.in_proj->shape[0]}));
    EXPECT_EQ(l.out_proj_bias->shape, (Shape{32}));
    EXPECT_EQ(l.conv1d_bias, nullptr);
    EXPECT_EQ(l.dt_layernorm, nullptr);
    EXPECT_EQ(l.b_layernorm, nullptr);
    EXPECT_EQ(l.c_layernorm, nullptr);
    EXPECT_EQ(l.gate_proj, nullptr);  // relu2 is ungated
    EXPECT_NE(l.up_proj, nullptr);
  }
}

TEST_F(WeightsTest, TensorsTheConfigDoesNotUseAreUnexpected) {
  json with_gate = testing::TinyHymbaConfigJson();
  json relu2 = with_gate;
  relu2["mlp_hidden_act"] = "relu2";
  absl::StatusOr<HymbaWeights> w = Load(relu2, testing::HymbaCheckpointTensors(with_gate, "F32"));
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w.status().message(),
            "unexpected tensor model.layers.0.moe.experts.0.gate_proj.weight");
}

TEST_F(WeightsTest, EmptyMemoryTokensAreAccepted) {
  json config = testing::TinyHymbaConfigJson();
  config["num_memory_tokens"] = 0;
  std::vector<TensorSpec> tensors = testing::HymbaCheckpointTensors(config, "BF16");
  tensors.push_back(testing::MakeTensor("model.memory_tokens", "BF16", {0, 32}, {}));
  absl::StatusOr<HymbaWeights> w = Load(config, tensors);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->memory_tokens, nullptr);
}

TEST_F(WeightsTest, ToleratesRotaryInvFreq) {
  const json config = testing::TinyHymbaConfigJson();
  std::vector<TensorSpec> tensors = testing::HymbaCheckpointTensors(config, "BF16");
  tensors.push_back(testing::MakeTensor("model.layers.0.mamba.self_attn.rotary_emb.inv_freq", "F32",
                                        {4}, {1, 0.5f, 0.25f, 0.125f}));
  absl::StatusOr<HymbaWeights> w = Load(config, tensors);
  EXPECT_TRUE(w.ok()) << w.status();
}

}  // namespace
}  // namespace hymba::engine
