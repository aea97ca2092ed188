#include "engine/model/hymba_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace hymba::engine {
namespace {

using json = nlohmann::json;

// Renders a JSON value for an error message; never throws (invalid UTF-8 is replaced).
std::string Show(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

// Typed, exception-free access to the keys of config.json. Every error names the file and key.
class ConfigReader {
 public:
  ConfigReader(const json& root, absl::string_view source) : root_(root), source_(source) {}

  // The value of `key`, or nullptr when it is absent or null.
  const json* Find(const char* key) const {
    auto it = root_.find(key);
    if (it == root_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::Status Error(const char* key, const std::string& what) const {
    const json* value = Find(key);
    if (value == nullptr) return absl::InvalidArgumentError(absl::StrCat(source_, ": ", key, what));
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", key, " = ", Show(*value), what));
  }

  const std::string& source() const { return source_; }

  absl::Status Missing(const char* key) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": missing required key \"", key, "\""));
  }

  // Reads an integer key; leaves `*out` unchanged when the key is absent and not required.
  absl::Status Int(const char* key, bool required, int* out) const {
    const json* v = Find(key);
    if (v == nullptr) return required ? Missing(key) : absl::OkStatus();
    HY_ASSIGN_OR_RETURN(*out, AsInt(key, *v));
    return absl::OkStatus();
  }

  absl::Status Bool(const char* key, bool* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_boolean()) return Error(key, ": expected true or false");
    *out = v->get<bool>();
    return absl::OkStatus();
  }

  absl::Status Number(const char* key, double* out) const {
    const json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_number()) return Error(key, ": expected a number");
    *out = v->get<double>();
    return absl::OkStatus();
  }

  // Reads a string key; `*out` keeps `fallback` when absent.
  absl::Status String(const char* key, const std::string& fallback, std::string* out) const {
    const json* v = Find(key);
    *out = fallback;
    if (v == nullptr) return absl::OkStatus();
    if (!v->is_string()) return Error(key, ": expected a string");
    *out = v->get<std::string>();
    return absl::OkStatus();
  }

  absl::Status IntList(const char* key, const json& v, std::vector<int>* out) const {
    if (!v.is_array()) return Error(key, ": expected a list of layer indices");
    out->clear();
    for (const json& item : v) {
      HY_ASSIGN_OR_RETURN(int x, AsInt(key, item));
      out->push_back(x);
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<int> AsInt(const char* key, const json& v) const {
    if (!v.is_number_integer()) return Error(key, ": expected an integer");
    if (v.is_number_unsigned() ? v.get<uint64_t>() > std::numeric_limits<int>::max()
                               : (v.get<int64_t>() > std::numeric_limits<int>::max() ||
                                  v.get<int64_t>() < std::numeric_limits<int>::min())) {
      return Error(key, ": out of range");
    }
    return static_cast<int>(v.get<int64_t>());
  }

  const json& root_;
  std::string source_;
};

absl::Status ReadSizes(const ConfigReader& r, HymbaConfig* c) {
  struct SizeKey {
    const char* key;
    int* field;
    bool required;
  };
  const SizeKey keys[] = {
      {"vocab_size", &c->vocab_size, true},
      {"hidden_size", &c->hidden_size, true},
      {"num_hidden_layers", &c->num_hidden_layers, true},
      {"num_attention_heads", &c->num_attention_heads, true},
      {"num_key_value_heads", &c->num_key_value_heads, true},
      {"intermediate_size", &c->intermediate_size, true},
      {"mamba_expand", &c->mamba_expand, false},
      {"mamba_d_state", &c->mamba_d_state, false},
      {"mamba_d_conv", &c->mamba_d_conv, false},
  };
  for (const SizeKey& k : keys) {
    HY_RETURN_IF_ERROR(r.Int(k.key, k.required, k.field));
    if (*k.field <= 0) return r.Error(k.key, ": must be positive");
  }
  // Keeps every derived size (e.g. in_proj rows, about 5 * d_inner) well inside an int.
  if (static_cast<int64_t>(c->mamba_expand) * c->hidden_size > (1 << 26)) {
    return r.Error("mamba_expand",
                   absl::StrFormat(": mamba_expand * hidden_size %d is too large", c->hidden_size));
  }
  // `mamba_dt_rank`: an integer or "auto" (= ceil(H / 16), as the official config resolves it).
  c->mamba_dt_rank = (c->hidden_size + 15) / 16;
  if (const json* v = r.Find("mamba_dt_rank"); v != nullptr && !(v->is_string() && *v == "auto")) {
    if (!v->is_number_integer())
      return r.Error("mamba_dt_rank", ": expected an integer or \"auto\"");
    HY_RETURN_IF_ERROR(r.Int("mamba_dt_rank", false, &c->mamba_dt_rank));
    if (c->mamba_dt_rank <= 0) return r.Error("mamba_dt_rank", ": must be positive");
  }
  if (c->hidden_size % c->num_attention_heads != 0) {
    return r.Error("num_attention_heads",
                   absl::StrFormat(": hidden_size %d is not divisible by it", c->hidden_size));
  }
  if (c->num_attention_heads % c->num_key_value_heads != 0) {
    return r.Error(
        "num_key_value_heads",
        absl::StrFormat(": num_attention_heads %d is not divisible by it", c->num_attention_heads));
  }
  if (c->d_inner() % c->num_attention_heads != 0) {
    return r.Error("num_attention_heads",
                   absl::StrFormat(": d_inner = mamba_expand * hidden_size = %d is not divisible "
                                   "by it",
                                   c->d_inner()));
  }
  // The official attention only works with these derived from hidden_size (HYMBA.md).
  for (const char* key : {"attn_hidden_size", "kq_head_dim"}) {
    int value = -1;
    HY_RETURN_IF_ERROR(r.Int(key, false, &value));
    if (value > 0)
      return r.Error(key, ": only values <= 0 (derived from hidden_size) are supported");
  }
  return absl::OkStatus();
}

absl::Status ReadFeatures(const ConfigReader& r, HymbaConfig* c) {
  HY_RETURN_IF_ERROR(r.Bool("mamba_conv_bias", &c->mamba_conv_bias));
  HY_RETURN_IF_ERROR(r.Bool("mamba_proj_bias", &c->mamba_proj_bias));
  HY_RETURN_IF_ERROR(r.Bool("mamba_inner_layernorms", &c->mamba_inner_layernorms));
  HY_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c->tie_word_embeddings));
  HY_RETURN_IF_ERROR(r.Int("bos_token_id", false, &c->bos_token_id));
  HY_RETURN_IF_ERROR(r.Int("eos_token_id", false, &c->eos_token_id));
  HY_RETURN_IF_ERROR(r.Int("pad_token_id", false, &c->pad_token_id));

  std::string act;
  HY_RETURN_IF_ERROR(r.String("mlp_hidden_act", "silu", &act));
  if (act == "silu") {
    c->mlp_hidden_act = MlpActivation::kSilu;
  } else if (act == "relu2") {
    c->mlp_hidden_act = MlpActivation::kRelu2;
  } else {
    return r.Error("mlp_hidden_act", ": only \"silu\" and \"relu2\" are supported");
  }
  // The SSM path's conv and gate activation (HYMBA.md "SSM path") is `hidden_act`.
  HY_RETURN_IF_ERROR(r.String("hidden_act", "silu", &act));
  if (act != "silu") return r.Error("hidden_act", ": only \"silu\" is supported");

  double eps = c->rms_norm_eps;
  HY_RETURN_IF_ERROR(r.Number("rms_norm_eps", &eps));
  if (!(eps > 0)) return r.Error("rms_norm_eps", ": must be > 0");
  c->rms_norm_eps = static_cast<float>(eps);

  HY_RETURN_IF_ERROR(r.Int("num_memory_tokens", false, &c->num_memory_tokens));
  if (c->num_memory_tokens < 0) return r.Error("num_memory_tokens", ": must be >= 0");

  HY_RETURN_IF_ERROR(r.Int("num_experts", false, &c->num_experts));
  if (c->num_experts != 1) return r.Error("num_experts", ": only 1 expert is supported");
  int interspersed = 0;
  HY_RETURN_IF_ERROR(r.Int("memory_tokens_interspersed_every", false, &interspersed));
  if (interspersed != 0) {
    return r.Error("memory_tokens_interspersed_every",
                   ": interspersed meta tokens are not supported");
  }
  std::string kq_norm;
  HY_RETURN_IF_ERROR(r.String("kq_norm", "none", &kq_norm));
  if (kq_norm != "none") {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: kq_norm '%s' is not supported (only \"none\")", r.source(), kq_norm));
  }
  return absl::OkStatus();
}

absl::Status ReadRope(const ConfigReader& r, HymbaConfig* c) {
  HY_RETURN_IF_ERROR(r.Bool("rope", &c->rope));
  HY_RETURN_IF_ERROR(r.Number("rope_theta", &c->rope_theta));
  if (!(c->rope_theta > 0)) return r.Error("rope_theta", ": must be > 0");
  HY_RETURN_IF_ERROR(r.Int("max_position_embeddings", false, &c->max_position_embeddings));
  HY_RETURN_IF_ERROR(
      r.Int("orig_max_position_embeddings", false, &c->orig_max_position_embeddings));
  std::string type;
  // An absent rope_type means "ntk", the default of the official HymbaConfig.
  HY_RETURN_IF_ERROR(r.String("rope_type", "ntk", &type));
  if (type == "default") {
    c->rope_type = RopeType::kDefault;
  } else if (type == "ntk") {
    c->rope_type = RopeType::kNtk;
  } else {
    return r.Error("rope_type", ": only \"default\" and \"ntk\" are supported");
  }
  if (!c->rope) return absl::OkStatus();
  const int dq = c->head_dim_qk();
  if (dq % 2 != 0 || (c->rope_type == RopeType::kNtk && dq <= 2)) {
    return r.Error("num_attention_heads",
                   absl::StrFormat(": RoPE needs an even head dim > 2, got %d", dq));
  }
  if (c->rope_type == RopeType::kNtk) {
    if (c->max_position_embeddings <= 0) {
      return r.Error("max_position_embeddings", ": must be > 0 with rope_type \"ntk\"");
    }
    if (c->orig_max_position_embeddings <= 0) {
      return r.Error("orig_max_position_embeddings", ": must be > 0 with rope_type \"ntk\"");
    }
    if (2LL * c->max_position_embeddings <= c->orig_max_position_embeddings) {
      return r.Error("orig_max_position_embeddings",
                     ": must be < 2 * max_position_embeddings for rope_type \"ntk\"");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLayer(const ConfigReader& r, const char* key, int layer, int num_layers) {
  if (layer < 0 || layer >= num_layers) {
    return r.Error(key, absl::StrFormat(": layer %d is outside [0, %d)", layer, num_layers));
  }
  return absl::OkStatus();
}

absl::Status ReadLayers(const ConfigReader& r, HymbaConfig* c) {
  const int num_layers = c->num_hidden_layers;
  // Absent `global_attn_idx`: the official model applies full attention to every layer.
  c->global_attn_idx.clear();
  if (const json* v = r.Find("global_attn_idx"); v != nullptr) {
    HY_RETURN_IF_ERROR(r.IntList("global_attn_idx", *v, &c->global_attn_idx));
  } else {
    for (int i = 0; i < num_layers; ++i) c->global_attn_idx.push_back(i);
  }
  for (int layer : c->global_attn_idx) {
    HY_RETURN_IF_ERROR(CheckLayer(r, "global_attn_idx", layer, num_layers));
  }
  HY_RETURN_IF_ERROR(r.Int("sliding_window", false, &c->sliding_window));
  std::vector<int> swa_layers;
  for (int i = 0; i < num_layers; ++i) {
    if (!c->is_global(i)) swa_layers.push_back(i);
  }
  if (!swa_layers.empty() && c->sliding_window <= 0) {
    return r.Error("sliding_window",
                   absl::StrCat(" is not > 0, but layers [", absl::StrJoin(swa_layers, ", "),
                                "] use sliding-window attention (not in global_attn_idx)"));
  }

  int reuse_every = -1;
  HY_RETURN_IF_ERROR(r.Int("kv_reuse_every_i_layer", false, &reuse_every));
  c->kv_reuse_group.clear();
  const json* groups = r.Find("kv_reuse_group");
  if (groups == nullptr) {
    if (reuse_every > 0) {
      return r.Error("kv_reuse_every_i_layer", ": not supported; list kv_reuse_group instead");
    }
    return absl::OkStatus();
  }
  if (!groups->is_array()) return r.Error("kv_reuse_group", ": expected a list of layer lists");
  std::vector<int> group_of(num_layers, -1);
  for (const json& item : *groups) {
    std::vector<int> group;
    HY_RETURN_IF_ERROR(r.IntList("kv_reuse_group", item, &group));
    const int g = static_cast<int>(c->kv_reuse_group.size());
    if (group.empty()) return r.Error("kv_reuse_group", absl::StrFormat(": group %d is empty", g));
    for (size_t j = 0; j < group.size(); ++j) {
      const int layer = group[j];
      HY_RETURN_IF_ERROR(CheckLayer(r, "kv_reuse_group", layer, num_layers));
      if (group_of[layer] >= 0) {
        return r.Error("kv_reuse_group",
                       absl::StrFormat(": layer %d is listed more than once", layer));
      }
      group_of[layer] = g;
      if (j > 0 && layer <= group[0]) {
        return r.Error("kv_reuse_group",
                       absl::StrFormat(": consumer layer %d does not come after its producer %d",
                                       layer, group[0]));
      }
      // The producer's K/V storage is sized by its own attention type, so a group cannot mix.
      if (c->is_global(layer) != c->is_global(group[0])) {
        return r.Error("kv_reuse_group",
                       absl::StrFormat(": group [%s] mixes global and sliding-window layers",
                                       absl::StrJoin(group, ", ")));
      }
    }
    c->kv_reuse_group.push_back(std::move(group));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HymbaConfig> HymbaConfig::Parse(absl::string_view json_text,
                                               absl::string_view source) {
  const json root = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": malformed JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": expected a JSON object"));
  }
  ConfigReader reader(root, source);
  HymbaConfig config;
  HY_RETURN_IF_ERROR(ReadSizes(reader, &config));
  HY_RETURN_IF_ERROR(ReadFeatures(reader, &config));
  HY_RETURN_IF_ERROR(ReadRope(reader, &config));
  HY_RETURN_IF_ERROR(ReadLayers(reader, &config));
  return config;
}

absl::StatusOr<HymbaConfig> HymbaConfig::Load(const std::string& model_dir) {
  const std::string path = model_dir + "/config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open (no config.json)"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return Parse(text.str(), path);
}

int HymbaConfig::in_proj_rows(int layer) const {
  const int kv_rows = is_kv_producer(layer) ? kv_width_k() + kv_width_v() : 0;
  return hidden_size + kv_rows + 2 * d_inner();
}

bool HymbaConfig::is_global(int layer) const {
  return std::find(global_attn_idx.begin(), global_attn_idx.end(), layer) != global_attn_idx.end();
}

int HymbaConfig::kv_producer(int layer) const {
  for (const std::vector<int>& group : kv_reuse_group) {
    if (std::find(group.begin(), group.end(), layer) != group.end()) return group.front();
  }
  return layer;
}

double HymbaConfig::rope_base() const {
  if (rope_type == RopeType::kDefault) return rope_theta;
  // NTK-aware scaling with factor 2 (HYMBA.md "Attention path").
  const double dq = head_dim_qk();
  const double ratio = 2.0 * max_position_embeddings / orig_max_position_embeddings - 1.0;
  return rope_theta * std::pow(ratio, dq / (dq - 2.0));
}

}  // namespace hymba::engine
