// HymbaConfig: the model hyper-parameters read from a checkpoint's config.json (see HYMBA.md,
// "Config keys that matter"), validated, with the derived sizes the engine uses.
//
// Errors: Parse/Load return InvalidArgument naming the offending key and its value (e.g.
// "config.json: num_experts = 2: only 1 expert is supported") for a missing required key, a wrong
// JSON type, an invalid value or an unsupported feature, and "<file>: malformed JSON" for text that
// is not JSON; Load returns NotFound naming the path when config.json cannot be opened.
// Keys not listed here (v_head_dim, conv_dim, layer_type, ...) are informational and ignored.
// Thread safety: an immutable value once built.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hymba::engine {

enum class MlpActivation { kSilu, kRelu2 };  // `mlp_hidden_act`: gated SiLU or ungated relu²
enum class RopeType { kDefault, kNtk };      // `rope_type`

struct HymbaConfig {
  int vocab_size = 0;           // V
  int hidden_size = 0;          // H
  int num_hidden_layers = 0;    // L
  int num_attention_heads = 0;  // nh
  int num_key_value_heads = 0;  // kvh
  int mamba_expand = 2;         // E
  int mamba_d_state = 16;       // N
  int mamba_d_conv = 4;         // Kc
  int mamba_dt_rank = 0;        // R ("auto" resolved to ceil(H / 16))
  bool mamba_conv_bias = true;
  bool mamba_proj_bias = false;
  bool mamba_inner_layernorms = true;
  int intermediate_size = 0;  // F
  MlpActivation mlp_hidden_act = MlpActivation::kSilu;
  float rms_norm_eps = 1e-6f;
  int num_memory_tokens = 0;         // M
  int sliding_window = 0;            // W (> 0 whenever a layer is not in global_attn_idx)
  std::vector<int> global_attn_idx;  // layers with full attention (absent: every layer)
  std::vector<std::vector<int>> kv_reuse_group;  // [producer, consumer, ...]
  bool rope = true;
  RopeType rope_type = RopeType::kDefault;
  double rope_theta = 10000.0;
  int max_position_embeddings = 0;
  int orig_max_position_embeddings = 0;
  bool tie_word_embeddings = true;
  int bos_token_id = 1;
  int eos_token_id = 2;
  int pad_token_id = 0;
  int num_experts = 1;

  // Parses and validates config.json text. `source` names the file in error messages.
  static absl::StatusOr<HymbaConfig> Parse(absl::string_view json_text,
                                           absl::string_view source = "config.json");
  // Reads `<model_dir>/config.json`.
  static absl::StatusOr<HymbaConfig> Load(const std::string& model_dir);

  // Derived sizes (HYMBA.md "Derived sizes").
  int head_dim_qk() const { return hidden_size / num_attention_heads; }  // dq
  int d_inner() const { return mamba_expand * hidden_size; }             // I
  int head_dim_v() const { return d_inner() / num_attention_heads; }     // dv
  int kv_width_k() const { return num_key_value_heads * head_dim_qk(); }
  int kv_width_v() const { return num_key_value_heads * head_dim_v(); }
  // Rows of layer i's in_proj: q + (k + v if producer) + x + z.
  int in_proj_rows(int layer) const;

  // REQUIRES (these and in_proj_rows): 0 <= layer < num_hidden_layers.
  bool is_global(int layer) const;
  // The layer whose K/V `layer` reads (itself when it is a producer). A producer always comes
  // before its consumers and shares their attention type (global or SWA).
  int kv_producer(int layer) const;
  bool is_kv_producer(int layer) const { return kv_producer(layer) == layer; }
  // RoPE base after `rope_type` scaling (HYMBA.md "Attention path").
  double rope_base() const;
};

}  // namespace hymba::engine
