// Broken checkpoints through the whole load path (config, archive, weights): each must fail with
// a status that names the problem, never crash.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/base/status_macros.h"
#include "engine/model/hymba_config.h"
#include "engine/model/hymba_weights.h"
#include "engine/model/safetensors.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/checkpoint_writer.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

using json = nlohmann::json;
using ::hymba::testing::TensorSpec;

// What a model load does: config.json, then the tensors, then the shape check.
absl::Status LoadCheckpoint(const std::string& dir) {
  HY_ASSIGN_OR_RETURN(HymbaConfig config, HymbaConfig::Load(dir));
  HY_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsArchive> archive, SafetensorsArchive::Open(dir));
  return HymbaWeights::Load(*archive, config).status();
}

class BadCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("bad-checkpoint");
    config_ = testing::TinyHymbaConfigJson();
    tensors_ = testing::HymbaCheckpointTensors(config_, "BF16");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes config_ and tensors_, loads them, and checks the failure's code and text.
  void ExpectLoadFails(absl::StatusCode code, const std::string& text) {
    ASSERT_TRUE(testing::WriteCheckpoint(dir_, config_, tensors_).ok());
    ExpectStatus(LoadCheckpoint(dir_), code, text);
  }

  static void ExpectStatus(const absl::Status& status, absl::StatusCode code,
                           const std::string& text) {
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_NE(status.message().find(text), std::string::npos)
        << "message: " << status.message() << "\nexpected to contain: " << text;
  }

  TensorSpec& Tensor(const std::string& name) {
    for (TensorSpec& t : tensors_) {
      if (t.name == name) return t;
    }
    ADD_FAILURE() << "no tensor " << name;
    return tensors_.front();
  }

  std::string dir_;
  json config_;
  std::vector<TensorSpec> tensors_;
};

TEST_F(BadCheckpointTest, GoodCheckpointLoads) {
  ASSERT_TRUE(testing::WriteCheckpoint(dir_, config_, tensors_).ok());
  absl::Status status = LoadCheckpoint(dir_);
  EXPECT_TRUE(status.ok()) << status;
}

TEST_F(BadCheckpointTest, MissingTensor) {
  tensors_.erase(tensors_.begin() + (&Tensor("model.layers.3.mamba.D.0") - tensors_.data()));
  ExpectLoadFails(absl::StatusCode::kInvalidArgument, "missing tensor model.layers.3.mamba.D.0");
}

TEST_F(BadCheckpointTest, MisShapedTensor) {
  Tensor("model.layers.3.mamba.in_proj.weight") =
      testing::RandomTensor("model.layers.3.mamba.in_proj.weight", "BF16", {10, 32}, 1);
  ExpectLoadFails(absl::StatusCode::kInvalidArgument,
                  "model.layers.3.mamba.in_proj.weight: shape [10, 32], expected [208, 32]");
}

TEST_F(BadCheckpointTest, ConsumerLayerWithKvRows) {
  // Layer 2 reuses layer 1's K/V, so its in_proj has no k/v rows.
  Tensor("model.layers.2.mamba.in_proj.weight") =
      testing::RandomTensor("model.layers.2.mamba.in_proj.weight", "BF16", {208, 32}, 1);
  ExpectLoadFails(absl::StatusCode::kInvalidArgument,
                  "model.layers.2.mamba.in_proj.weight: shape [208, 32], expected [160, 32]");
}

TEST_F(BadCheckpointTest, ConfigDisagreesWithTensors) {
  config_["vocab_size"] = 100;
  ExpectLoadFails(absl::StatusCode::kInvalidArgument,
                  "model.embed_tokens.weight: shape [64, 32], expected [100, 32]");
}

TEST_F(BadCheckpointTest, UnexpectedExtraTensor) {
  tensors_.push_back(testing::RandomTensor("model.layers.1.mamba.q_norm.weight", "BF16", {8}, 1));
  ExpectLoadFails(absl::StatusCode::kInvalidArgument,
                  "unexpected tensor model.layers.1.mamba.q_norm.weight");
}

TEST_F(BadCheckpointTest, TruncatedSafetensorsFile) {
  ASSERT_TRUE(testing::WriteCheckpoint(dir_, config_, tensors_).ok());
  const std::string path = dir_ + "/model.safetensors";
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 100);  // cuts the last tensor's data
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kDataLoss, "outside the");
  std::filesystem::resize_file(path, 100);  // cuts the header
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kDataLoss, "model.safetensors: truncated");
  std::filesystem::resize_file(path, 3);
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kDataLoss, "model.safetensors: truncated");
}

TEST_F(BadCheckpointTest, MalformedJsonHeader) {
  std::string bytes = testing::SafetensorsBytes(tensors_);
  bytes[8] = '[';  // the header's opening brace
  ASSERT_TRUE(testing::WriteFile(dir_ + "/config.json", config_.dump()).ok());
  ASSERT_TRUE(testing::WriteFile(dir_ + "/model.safetensors", bytes).ok());
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kDataLoss,
               dir_ + "/model.safetensors: malformed JSON header");
}

TEST_F(BadCheckpointTest, UnsupportedTensorDType) {
  tensors_.push_back(TensorSpec{"model.position_ids", "I64", {4}, std::string(32, '\0')});
  ExpectLoadFails(absl::StatusCode::kInvalidArgument,
                  "tensor model.position_ids has unsupported dtype I64");
}

TEST_F(BadCheckpointTest, BadConfigValue) {
  config_["hidden_size"] = "big";
  ExpectLoadFails(absl::StatusCode::kInvalidArgument,
                  dir_ + "/config.json: hidden_size = \"big\": expected an integer");
  config_["hidden_size"] = 32;
  config_["num_attention_heads"] = 5;
  ExpectLoadFails(absl::StatusCode::kInvalidArgument,
                  "num_attention_heads = 5: hidden_size 32 is not divisible by it");
}

TEST_F(BadCheckpointTest, MalformedConfigJson) {
  ASSERT_TRUE(testing::WriteCheckpoint(dir_, config_, tensors_).ok());
  ASSERT_TRUE(testing::WriteFile(dir_ + "/config.json", "{\"hidden_size\": 32,").ok());
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kInvalidArgument,
               dir_ + "/config.json: malformed JSON");
}

struct UnsupportedCase {
  const char* name;
  const char* key;
  json value;
  const char* expected;
};

class BadCheckpointUnsupportedTest : public BadCheckpointTest,
                                     public ::testing::WithParamInterface<UnsupportedCase> {};

TEST_P(BadCheckpointUnsupportedTest, RefusedClearly) {
  config_[GetParam().key] = GetParam().value;
  ExpectLoadFails(absl::StatusCode::kInvalidArgument, GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    BadCheckpoint, BadCheckpointUnsupportedTest,
    ::testing::Values(
        UnsupportedCase{"num_experts", "num_experts", 2, "num_experts = 2: only 1 expert"},
        UnsupportedCase{"interspersed", "memory_tokens_interspersed_every", 1,
                        "memory_tokens_interspersed_every = 1: interspersed meta tokens are not"},
        UnsupportedCase{"kq_norm", "kq_norm", "rms", "kq_norm 'rms' is not supported"},
        UnsupportedCase{"rope_type", "rope_type", "yarn",
                        "rope_type = \"yarn\": only \"default\" and \"ntk\" are supported"},
        UnsupportedCase{"mlp_hidden_act", "mlp_hidden_act", "gelu",
                        "mlp_hidden_act = \"gelu\": only \"silu\" and \"relu2\" are supported"},
        UnsupportedCase{"attn_hidden_size", "attn_hidden_size", 64,
                        "attn_hidden_size = 64: only values <= 0"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(BadCheckpointTest, MissingModelFile) {
  ASSERT_TRUE(testing::WriteFile(dir_ + "/config.json", config_.dump()).ok());
  absl::Status status = LoadCheckpoint(dir_);
  ExpectStatus(status, absl::StatusCode::kNotFound, dir_ + ": no model.safetensors");
}

TEST_F(BadCheckpointTest, MissingConfig) {
  ASSERT_TRUE(testing::WriteSafetensors(dir_ + "/model.safetensors", tensors_).ok());
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kNotFound, dir_ + "/config.json");
}

TEST_F(BadCheckpointTest, MissingShard) {
  ASSERT_TRUE(testing::WriteFile(dir_ + "/config.json", config_.dump()).ok());
  ASSERT_TRUE(testing::WriteShardedSafetensors(dir_, tensors_, 2).ok());
  std::filesystem::remove(dir_ + "/model-00002-of-00002.safetensors");
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kNotFound,
               dir_ + "/model-00002-of-00002.safetensors");
}

TEST_F(BadCheckpointTest, ShardLacksIndexedTensor) {
  ASSERT_TRUE(testing::WriteFile(dir_ + "/config.json", config_.dump()).ok());
  ASSERT_TRUE(testing::WriteShardedSafetensors(dir_, tensors_, 2).ok());
  // Rewrite shard 1 without its first tensor, which the index still maps there.
  const size_t half = tensors_.size() / 2;
  std::vector<TensorSpec> shard(tensors_.begin() + 1, tensors_.begin() + half);
  ASSERT_TRUE(testing::WriteSafetensors(dir_ + "/model-00001-of-00002.safetensors", shard).ok());
  ExpectStatus(LoadCheckpoint(dir_), absl::StatusCode::kDataLoss,
               "tensor model.embed_tokens.weight is mapped to model-00001-of-00002.safetensors");
}

}  // namespace
}  // namespace hymba::engine
