#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/hymba_config.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/checkpoint_writer.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

using json = nlohmann::json;

// The published Hymba-1.5B config.json, including keys the engine ignores.
json Hymba15BConfig() {
  return json::parse(R"({
    "architectures": ["HymbaForCausalLM"], "model_type": "hymba", "torch_dtype": "bfloat16",
    "attention_dropout": 0.0, "attn_factor": 0.5, "attn_hidden_size": -1,
    "attn_implementation": "flex", "attn_implementation_new": "flex",
    "bos_token_id": 1, "calc_logits_for_entire_prompt": false,
    "conv_dim": {"0": 3200, "1": 3200}, "eos_token_id": 2,
    "global_attn_idx": [0, 15, 31], "hidden_act": "silu", "hidden_size": 1600,
    "initializer_range": 0.02, "intermediate_size": 5504, "kq_head_dim": -1, "kq_norm": "none",
    "kv_reuse_every_i_layer": -1,
    "kv_reuse_group": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14],
                       [16, 17, 18], [19, 20], [21, 22], [23, 24], [25, 26], [27, 28], [29, 30]],
    "kv_weight_reuse": false, "layer_type": ["h", "h"], "mamba_conv_bias": true,
    "mamba_d_conv": 4, "mamba_d_state": 16, "mamba_dt_rank": 100, "mamba_expand": 2,
    "mamba_inner_layernorms": true, "mamba_proj_bias": false, "max_position_embeddings": 8192,
    "memory_tokens_interspersed_every": 0, "mlp_hidden_act": "silu", "num_attention_heads": 25,
    "num_experts": 1, "num_experts_per_tok": 1, "num_hidden_layers": 32,
    "num_key_value_heads": 5, "num_mamba": 1, "num_memory_tokens": 128,
    "orig_max_position_embeddings": 2048, "output_router_logits": false, "pad_token_id": 0,
    "rms_norm_eps": 1e-06, "rope": true, "rope_theta": 10000.0, "rope_type": "ntk",
    "router_aux_loss_coef": 0.001, "seq_length": 8192, "sliding_window": 1024,
    "tie_word_embeddings": true, "transformers_version": "4.44.0", "use_cache": false,
    "use_mamba_kernels": true, "v_head_dim": 128, "vocab_size": 32001
  })");
}

absl::StatusOr<HymbaConfig> ParseJson(const json& j) { return HymbaConfig::Parse(j.dump()); }

TEST(ConfigTest, ParsesHymba15B) {
  absl::StatusOr<HymbaConfig> parsed = ParseJson(Hymba15BConfig());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const HymbaConfig& c = *parsed;
  EXPECT_EQ(c.vocab_size, 32001);
  EXPECT_EQ(c.hidden_size, 1600);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 25);
  EXPECT_EQ(c.num_key_value_heads, 5);
  EXPECT_EQ(c.mamba_d_state, 16);
  EXPECT_EQ(c.mamba_d_conv, 4);
  EXPECT_EQ(c.mamba_dt_rank, 100);
  EXPECT_TRUE(c.mamba_conv_bias);
  EXPECT_FALSE(c.mamba_proj_bias);
  EXPECT_TRUE(c.mamba_inner_layernorms);
  EXPECT_EQ(c.intermediate_size, 5504);
  EXPECT_EQ(c.mlp_hidden_act, MlpActivation::kSilu);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_EQ(c.num_memory_tokens, 128);
  EXPECT_EQ(c.sliding_window, 1024);
  EXPECT_EQ(c.global_attn_idx, (std::vector<int>{0, 15, 31}));
  EXPECT_EQ(c.kv_reuse_group.size(), 14u);
  EXPECT_TRUE(c.rope);
  EXPECT_EQ(c.rope_type, RopeType::kNtk);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_EQ(c.orig_max_position_embeddings, 2048);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.num_experts, 1);

  // Derived sizes (HYMBA.md "Derived sizes").
  EXPECT_EQ(c.head_dim_qk(), 64);
  EXPECT_EQ(c.d_inner(), 3200);
  EXPECT_EQ(c.head_dim_v(), 128);
  EXPECT_EQ(c.kv_width_k(), 320);
  EXPECT_EQ(c.kv_width_v(), 640);
  EXPECT_EQ(c.in_proj_rows(0), 1600 + 320 + 640 + 2 * 3200);
  EXPECT_EQ(c.in_proj_rows(2), 1600 + 2 * 3200);

  // ntk: 10000 * (2 * 8192 / 2048 - 1)^(64 / 62).
  EXPECT_NEAR(c.rope_base(), 10000.0 * std::pow(7.0, 64.0 / 62.0), 1e-6);
  EXPECT_NEAR(c.rope_base(), 74534.83, 0.01);
}

TEST(ConfigTest, ProducersAndConsumersOf15B) {
  absl::StatusOr<HymbaConfig> c = ParseJson(Hymba15BConfig());
  ASSERT_TRUE(c.ok()) << c.status();
  for (int layer : {0, 15, 31}) {
    EXPECT_TRUE(c->is_global(layer)) << layer;
    EXPECT_TRUE(c->is_kv_producer(layer)) << layer;
  }
  EXPECT_FALSE(c->is_global(1));
  EXPECT_FALSE(c->is_global(30));
  for (int p : {1, 3, 5, 7, 9, 11, 13, 19, 21, 23, 25, 27, 29}) {  // pairs [p, p + 1]
    EXPECT_TRUE(c->is_kv_producer(p)) << p;
    EXPECT_EQ(c->kv_producer(p + 1), p) << p + 1;
    EXPECT_FALSE(c->is_kv_producer(p + 1)) << p + 1;
  }
  EXPECT_EQ(c->kv_producer(16), 16);
  EXPECT_EQ(c->kv_producer(17), 16);
  EXPECT_EQ(c->kv_producer(18), 16);
  EXPECT_EQ(c->kv_producer(19), 19);
  EXPECT_EQ(c->kv_producer(30), 29);
  int producers = 0;
  for (int i = 0; i < 32; ++i) producers += c->is_kv_producer(i);
  EXPECT_EQ(producers, 3 + 14);
}

TEST(ConfigTest, DtRankAutoIsCeilHiddenOver16) {
  json j = Hymba15BConfig();
  j["mamba_dt_rank"] = "auto";
  absl::StatusOr<HymbaConfig> c = ParseJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mamba_dt_rank, 100);
  j = testing::TinyHymbaConfigJson();  // H = 32
  j["hidden_size"] = 40;
  j["num_attention_heads"] = 2;
  j["num_key_value_heads"] = 1;
  c = ParseJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mamba_dt_rank, 3);
}

TEST(ConfigTest, DefaultsForOptionalKeys) {
  json j = Hymba15BConfig();
  for (const char* key :
       {"rope_type", "kq_norm", "num_experts", "memory_tokens_interspersed_every",
        "attn_hidden_size", "kq_head_dim", "mamba_dt_rank", "hidden_act", "mlp_hidden_act"}) {
    j.erase(key);
  }
  absl::StatusOr<HymbaConfig> c = ParseJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  // The official HymbaConfig defaults rope_type to "ntk".
  EXPECT_EQ(c->rope_type, RopeType::kNtk);
  EXPECT_NEAR(c->rope_base(), 74534.83, 0.01);
  EXPECT_EQ(c->mamba_dt_rank, 100);
  EXPECT_EQ(c->mlp_hidden_act, MlpActivation::kSilu);
}

TEST(ConfigTest, AbsentGlobalAttnIdxMeansFullAttentionEverywhere) {
  json j = testing::TinyHymbaConfigJson();
  j.erase("global_attn_idx");
  j.erase("sliding_window");
  absl::StatusOr<HymbaConfig> c = ParseJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < c->num_hidden_layers; ++i) EXPECT_TRUE(c->is_global(i)) << i;
}

TEST(ConfigTest, Relu2AndNoReuse) {
  json j = testing::TinyHymbaConfigJson();
  j["mlp_hidden_act"] = "relu2";
  j.erase("kv_reuse_group");
  absl::StatusOr<HymbaConfig> c = ParseJson(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mlp_hidden_act, MlpActivation::kRelu2);
  for (int i = 0; i < c->num_hidden_layers; ++i) EXPECT_TRUE(c->is_kv_producer(i)) << i;
}

TEST(ConfigTest, LoadReadsConfigJsonAndNamesMissingFile) {
  const std::string dir = testing::MakeTempDir("config");
  absl::StatusOr<HymbaConfig> missing = HymbaConfig::Load(dir);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(dir + "/config.json"), std::string::npos)
      << missing.status();
  ASSERT_TRUE(testing::WriteFile(dir + "/config.json", Hymba15BConfig().dump()).ok());
  absl::StatusOr<HymbaConfig> loaded = HymbaConfig::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->hidden_size, 1600);
  std::filesystem::remove_all(dir);
}

// One invalid config: a JSON merge patch over the 1.5B config (null deletes a key) and the text
// the error message must contain.
struct BadConfigCase {
  const char* name;
  const char* patch;
  const char* expected;
};

class ConfigErrorTest : public ::testing::TestWithParam<BadConfigCase> {};

TEST_P(ConfigErrorTest, NamesKeyAndValue) {
  json j = Hymba15BConfig();
  j.merge_patch(json::parse(GetParam().patch));
  absl::StatusOr<HymbaConfig> c = ParseJson(j);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_NE(c.status().message().find(GetParam().expected), std::string::npos) << c.status();
  EXPECT_EQ(c.status().message().rfind("config.json: ", 0), 0u) << c.status();
}

const BadConfigCase kBadConfigs[] = {
    {"missing_vocab_size", R"({"vocab_size": null})", "missing required key \"vocab_size\""},
    {"missing_hidden_size", R"({"hidden_size": null})", "missing required key \"hidden_size\""},
    {"missing_layers", R"({"num_hidden_layers": null})", "key \"num_hidden_layers\""},
    {"missing_heads", R"({"num_attention_heads": null})", "key \"num_attention_heads\""},
    {"missing_kv_heads", R"({"num_key_value_heads": null})", "key \"num_key_value_heads\""},
    {"missing_ffn", R"({"intermediate_size": null})", "key \"intermediate_size\""},
    {"hidden_size_string", R"({"hidden_size": "big"})", "hidden_size = \"big\": expected an int"},
    {"hidden_size_float", R"({"hidden_size": 1600.5})", "hidden_size = 1600.5: expected an int"},
    {"hidden_size_huge", R"({"hidden_size": 10000000000})", "hidden_size = 10000000000: out of"},
    {"hidden_size_zero", R"({"hidden_size": 0})", "hidden_size = 0: must be positive"},
    {"vocab_negative", R"({"vocab_size": -5})", "vocab_size = -5: must be positive"},
    {"d_state_zero", R"({"mamba_d_state": 0})", "mamba_d_state = 0: must be positive"},
    {"expand_huge", R"({"mamba_expand": 100000})", "mamba_expand = 100000"},
    {"heads_not_dividing", R"({"num_attention_heads": 7})", "num_attention_heads = 7: hidden_size"},
    {"kv_heads_not_dividing", R"({"num_key_value_heads": 4})", "num_key_value_heads = 4: num_att"},
    {"attn_hidden_size", R"({"attn_hidden_size": 1600})", "attn_hidden_size = 1600: only values"},
    {"kq_head_dim", R"({"kq_head_dim": 64})", "kq_head_dim = 64: only values <= 0"},
    {"dt_rank_string", R"({"mamba_dt_rank": "big"})", "mamba_dt_rank = \"big\": expected an"},
    {"dt_rank_zero", R"({"mamba_dt_rank": 0})", "mamba_dt_rank = 0: must be positive"},
    {"conv_bias_string", R"({"mamba_conv_bias": "yes"})", "mamba_conv_bias = \"yes\": expected"},
    {"tie_string", R"({"tie_word_embeddings": 1})", "tie_word_embeddings = 1: expected true"},
    {"mlp_gelu", R"({"mlp_hidden_act": "gelu"})", "mlp_hidden_act = \"gelu\": only"},
    {"hidden_act_gelu", R"({"hidden_act": "gelu"})", "hidden_act = \"gelu\": only \"silu\""},
    {"eps_zero", R"({"rms_norm_eps": 0})", "rms_norm_eps = 0: must be > 0"},
    {"eps_string", R"({"rms_norm_eps": "small"})", "rms_norm_eps = \"small\": expected a number"},
    {"meta_negative", R"({"num_memory_tokens": -1})", "num_memory_tokens = -1: must be >= 0"},
    {"experts", R"({"num_experts": 2})", "num_experts = 2: only 1 expert"},
    {"interspersed", R"({"memory_tokens_interspersed_every": 1})",
     "memory_tokens_interspersed_every = 1: interspersed"},
    {"kq_norm_rms", R"({"kq_norm": "rms"})", "kq_norm 'rms' is not supported"},
    {"kq_norm_perhead", R"({"kq_norm": "perhead-rms"})", "kq_norm 'perhead-rms' is not support"},
    {"rope_theta_zero", R"({"rope_theta": 0})", "rope_theta = 0: must be > 0"},
    {"rope_theta_negative", R"({"rope_theta": -1.5})", "rope_theta = -1.5: must be > 0"},
    {"rope_yarn", R"({"rope_type": "yarn"})", "rope_type = \"yarn\": only \"default\""},
    {"rope_dynamic", R"({"rope_type": "dynamic_ntk"})", "rope_type = \"dynamic_ntk\""},
    {"ntk_no_orig", R"({"orig_max_position_embeddings": null})",
     "orig_max_position_embeddings: must be > 0 with rope_type \"ntk\""},
    {"ntk_no_max", R"({"max_position_embeddings": 0})", "max_position_embeddings = 0: must be"},
    {"ntk_orig_too_big", R"({"orig_max_position_embeddings": 20000})",
     "orig_max_position_embeddings = 20000: must be < 2 * max_position_embeddings"},
    {"global_out_of_range", R"({"global_attn_idx": [0, 15, 32]})", "layer 32 is outside [0, 32)"},
    {"global_negative", R"({"global_attn_idx": [-1]})", "global_attn_idx = [-1]: layer -1 is"},
    {"global_not_list", R"({"global_attn_idx": "all"})", "global_attn_idx = \"all\": expected"},
    {"group_out_of_range", R"({"kv_reuse_group": [[1, 40]]})",
     "kv_reuse_group = [[1,40]]: layer 40 is outside [0, 32)"},
    {"group_overlap", R"({"kv_reuse_group": [[1, 2], [2, 3]]})",
     "layer 2 is listed more than once"},
    {"group_self", R"({"kv_reuse_group": [[1, 1]]})", "layer 1 is listed more than once"},
    {"group_backwards", R"({"kv_reuse_group": [[3, 2]]})",
     "consumer layer 2 does not come after its producer 3"},
    {"group_mixed", R"({"kv_reuse_group": [[14, 15]]})",
     "group [14, 15] mixes global and sliding-window layers"},
    {"group_empty", R"({"kv_reuse_group": [[]]})", "group 0 is empty"},
    {"group_not_int", R"({"kv_reuse_group": [[1, "x"]]})", "kv_reuse_group = [[1,\"x\"]]: exp"},
    {"group_not_list", R"({"kv_reuse_group": 3})", "kv_reuse_group = 3: expected a list"},
    {"reuse_every", R"({"kv_reuse_group": null, "kv_reuse_every_i_layer": 2})",
     "kv_reuse_every_i_layer = 2: not supported"},
    {"window_zero", R"({"sliding_window": 0})",
     "sliding_window = 0 is not > 0, but layers [1, 2, 3, 4"},
    {"window_absent", R"({"sliding_window": null})", "sliding_window is not > 0, but layers"},
};

INSTANTIATE_TEST_SUITE_P(Config, ConfigErrorTest, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigTest, MalformedJson) {
  for (const char* text : {"{\"hidden_size\": 16,", "", "not json", "{\"a\": 1} trailing"}) {
    absl::StatusOr<HymbaConfig> c = HymbaConfig::Parse(text);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(c.status().message().find("config.json: malformed JSON"), std::string::npos)
        << c.status();
  }
  absl::StatusOr<HymbaConfig> array = HymbaConfig::Parse("[1, 2]", "my/config.json");
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(array.status().message().find("my/config.json: expected a JSON object"),
            std::string::npos)
      << array.status();
}

TEST(ConfigTest, InvalidUtf8InValueDoesNotThrow) {
  absl::StatusOr<HymbaConfig> c =
      HymbaConfig::Parse(R"({"vocab_size": 8, "hidden_size": "\uD800"})");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  std::string bad = Hymba15BConfig().dump();
  bad.replace(bad.find("\"silu\""), 6, "\"\xff\xfe\"");
  c = HymbaConfig::Parse(bad);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
}

}  // namespace
}  // namespace hymba::engine
