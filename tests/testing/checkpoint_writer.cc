#include "tests/testing/checkpoint_writer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/base/bf16.h"

namespace hymba::testing {
namespace {

using json = nlohmann::json;

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

template <typename T>
void Append(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

// splitmix64: a small, well-mixed counter-based generator.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t HashName(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

uint16_t F32ToF16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to inf
  if (abs < 0x38800000u) {
    // Below 2^-14: a subnormal (or zero) in units of 2^-24; the scaling is exact and
    // nearbyint rounds to nearest even. 1024 units is the smallest normal, encoded the same way.
    const float units = std::fabs(f) * 16777216.0f;
    return sign | static_cast<uint16_t>(std::nearbyint(units));
  }
  uint32_t bits = ((abs >> 23) - 127 + 15) << 10 | ((abs >> 13) & 0x3ffu);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (bits & 1u))) ++bits;  // carries into the exponent
  return sign | static_cast<uint16_t>(bits);
}

TensorSpec MakeTensor(const std::string& name, const std::string& dtype,
                      const std::vector<int64_t>& shape, const std::vector<float>& values) {
  TensorSpec t{name, dtype, shape, {}};
  for (float v : values) {
    if (dtype == "F32") {
      Append(&t.data, v);
    } else if (dtype == "F16") {
      Append(&t.data, F32ToF16Bits(v));
    } else {
      Append(&t.data, F32ToBf16Bits(v));
    }
  }
  return t;
}

TensorSpec RandomTensor(const std::string& name, const std::string& dtype,
                        const std::vector<int64_t>& shape, uint64_t seed, float scale) {
  const int64_t n = NumElements(shape);
  std::vector<float> values(n);
  const uint64_t key = Mix(seed ^ HashName(name));
  for (int64_t i = 0; i < n; ++i) {
    const double unit = static_cast<double>(Mix(key + i) >> 11) / 9007199254740992.0;  // [0, 1)
    values[i] = static_cast<float>((2.0 * unit - 1.0) * scale);
  }
  return MakeTensor(name, dtype, shape, values);
}

std::vector<float> DecodeTensor(const TensorSpec& tensor) {
  std::vector<float> out;
  const char* p = tensor.data.data();
  if (tensor.dtype == "F32") {
    out.resize(tensor.data.size() / 4);
    std::memcpy(out.data(), p, out.size() * 4);
    return out;
  }
  for (size_t i = 0; i + 1 < tensor.data.size(); i += 2) {
    uint16_t h;
    std::memcpy(&h, p + i, 2);
    if (tensor.dtype == "BF16") {
      out.push_back(Bf16BitsToF32(h));
      continue;
    }
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    double mag = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, exp - 25);
    if (exp == 0x1f) mag = mant == 0 ? INFINITY : NAN;
    out.push_back(static_cast<float>((h & 0x8000) ? -mag : mag));
  }
  return out;
}

std::string SafetensorsBytes(const std::vector<TensorSpec>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorSpec& t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  Append(&out, static_cast<uint64_t>(text.size()));
  out += text;
  for (const TensorSpec& t : tensors) out += t.data;
  return out;
}

absl::Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& tensors) {
  return WriteFile(path, SafetensorsBytes(tensors));
}

absl::Status WriteShardedSafetensors(const std::string& dir, const std::vector<TensorSpec>& tensors,
                                     int num_shards) {
  json weight_map = json::object();
  uint64_t total = 0;
  const size_t n = tensors.size();
  for (int s = 0; s < num_shards; ++s) {
    char file[64];
    std::snprintf(file, sizeof(file), "model-%05d-of-%05d.safetensors", s + 1, num_shards);
    std::vector<TensorSpec> shard(tensors.begin() + n * s / num_shards,
                                  tensors.begin() + n * (s + 1) / num_shards);
    for (const TensorSpec& t : shard) {
      weight_map[t.name] = file;
      total += t.data.size();
    }
    absl::Status status = WriteSafetensors(absl::StrCat(dir, "/", file), shard);
    if (!status.ok()) return status;
  }
  const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  return WriteFile(dir + "/model.safetensors.index.json", index.dump(2));
}

json TinyHymbaConfigJson() {
  return json{
      {"architectures", {"HymbaForCausalLM"}},
      {"model_type", "hymba"},
      {"vocab_size", 64},
      {"hidden_size", 32},
      {"num_hidden_layers", 6},
      {"num_attention_heads", 4},
      {"num_key_value_heads", 2},
      {"attn_hidden_size", -1},
      {"kq_head_dim", -1},
      {"mamba_expand", 2},
      {"mamba_d_state", 4},
      {"mamba_d_conv", 4},
      {"mamba_dt_rank", "auto"},
      {"mamba_conv_bias", true},
      {"mamba_proj_bias", false},
      {"mamba_inner_layernorms", true},
      {"intermediate_size", 48},
      {"hidden_act", "silu"},
      {"mlp_hidden_act", "silu"},
      {"rms_norm_eps", 1e-6},
      {"num_memory_tokens", 3},
      {"sliding_window", 5},
      {"global_attn_idx", {0, 5}},
      {"kv_reuse_group", {{1, 2}, {3, 4}}},
      {"rope", true},
      {"rope_type", "ntk"},
      {"rope_theta", 10000.0},
      {"max_position_embeddings", 64},
      {"orig_max_position_embeddings", 32},
      {"kq_norm", "none"},
      {"tie_word_embeddings", true},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
      {"pad_token_id", 0},
      {"num_experts", 1},
      {"memory_tokens_interspersed_every", 0},
  };
}

std::vector<TensorSpec> HymbaCheckpointTensors(const json& config, const std::string& dtype,
                                               uint64_t seed) {
  const int64_t V = config.at("vocab_size"), H = config.at("hidden_size");
  const int64_t L = config.at("num_hidden_layers"), nh = config.at("num_attention_heads");
  const int64_t kvh = config.at("num_key_value_heads"), F = config.at("intermediate_size");
  const int64_t E = config.value("mamba_expand", 2), N = config.value("mamba_d_state", 16);
  const int64_t Kc = config.value("mamba_d_conv", 4), M = config.value("num_memory_tokens", 0);
  const json rank = config.value("mamba_dt_rank", json("auto"));
  const int64_t R = rank.is_string() ? (H + 15) / 16 : rank.get<int64_t>();
  const int64_t I = E * H, dq = H / nh, dv = I / nh;
  std::set<int64_t> consumers;
  for (const json& group : config.value("kv_reuse_group", json::array())) {
    for (size_t j = 1; j < group.size(); ++j) consumers.insert(group[j].get<int64_t>());
  }

  std::vector<TensorSpec> out;
  const auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    // Norm weights near 1, like trained ones; everything else small and centred.
    const bool norm = name.find("layernorm") != std::string::npos;
    TensorSpec t = RandomTensor(name, dtype, shape, seed, norm ? 0.1f : 0.5f);
    if (norm) {
      std::vector<float> v = DecodeTensor(t);
      for (float& x : v) x += 1.0f;
      t = MakeTensor(name, dtype, shape, v);
    }
    out.push_back(std::move(t));
  };
  add("model.embed_tokens.weight", {V, H});
  if (M > 0) add("model.memory_tokens", {M, H});
  for (int64_t i = 0; i < L; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    const std::string m = p + "mamba.";
    const int64_t P = H + (consumers.count(i) ? 0 : kvh * dq + kvh * dv) + 2 * I;
    add(p + "input_layernorm.weight", {H});
    add(m + "in_proj.weight", {P, H});
    if (config.value("mamba_proj_bias", false)) add(m + "in_proj.bias", {P});
    add(m + "conv1d.weight", {I, 1, Kc});
    if (config.value("mamba_conv_bias", true)) add(m + "conv1d.bias", {I});
    add(m + "x_proj.0.weight", {R + 2 * N, I});
    add(m + "dt_proj.0.weight", {I, R});
    add(m + "dt_proj.0.bias", {I});
    add(m + "A_log.0", {I, N});
    add(m + "D.0", {I});
    if (config.value("mamba_inner_layernorms", true)) {
      add(m + "dt_layernorm.weight", {R});
      add(m + "B_layernorm.weight", {N});
      add(m + "C_layernorm.weight", {N});
    }
    add(m + "pre_avg_layernorm1.weight", {I});
    add(m + "pre_avg_layernorm2.weight", {I});
    add(m + "out_proj.weight", {H, I});
    if (config.value("mamba_proj_bias", false)) add(m + "out_proj.bias", {H});
    add(p + "pre_moe_layernorm.weight", {H});
    const std::string e = p + "moe.experts.0.";
    if (config.value("mlp_hidden_act", std::string("silu")) == "silu") {
      add(e + "gate_proj.weight", {F, H});
    }
    add(e + "up_proj.weight", {F, H});
    add(e + "down_proj.weight", {H, F});
  }
  add("model.final_layernorm.weight", {H});
  if (!config.value("tie_word_embeddings", true)) add("lm_head.weight", {V, H});
  return out;
}

absl::Status WriteCheckpoint(const std::string& dir, const json& config,
                             const std::vector<TensorSpec>& tensors) {
  absl::Status status = WriteFile(dir + "/config.json", config.dump(2));
  if (!status.ok()) return status;
  return WriteSafetensors(dir + "/model.safetensors", tensors);
}

}  // namespace hymba::testing
