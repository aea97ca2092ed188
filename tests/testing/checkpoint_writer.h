// Writes safetensors files, shard indexes and config.json from in-memory tensors, so tests can
// build good and deliberately broken checkpoints in the HF layout without Python.
//
// Independent of the engine: dtype encoding and tensor shapes are derived here from the config
// JSON (HYMBA.md "Tensors"), not from HymbaConfig, so loader tests check one against the other.
// Thread safety: pure functions (the Write* functions touch only the paths they are given).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace hymba::testing {

// One tensor to write.
struct TensorSpec {
  std::string name;
  std::string dtype;           // safetensors spelling: "F32", "F16", "BF16" (or e.g. "I64")
  std::vector<int64_t> shape;  // row-major
  std::string data;            // raw little-endian bytes
};

// f32 -> IEEE binary16 bits, rounded to nearest even (overflow -> inf, NaN stays NaN).
uint16_t F32ToF16Bits(float f);

// Encodes `values` (one per element of `shape`) as `dtype`: "F32", "F16" or "BF16" (both rounded
// to nearest even). REQUIRES: values.size() == product of shape.
TensorSpec MakeTensor(const std::string& name, const std::string& dtype,
                      const std::vector<int64_t>& shape, const std::vector<float>& values);
// Deterministic pseudo-random values uniform in [-scale, scale], keyed by `seed` and `name`.
TensorSpec RandomTensor(const std::string& name, const std::string& dtype,
                        const std::vector<int64_t>& shape, uint64_t seed, float scale = 0.5f);
// Decodes an F32, F16 or BF16 tensor's data to f32 (a reference decoder for round-trip tests).
std::vector<float> DecodeTensor(const TensorSpec& tensor);

// The bytes of a safetensors file holding `tensors` in order: u64 header length, JSON header
// padded with spaces to a multiple of 8, data.
std::string SafetensorsBytes(const std::vector<TensorSpec>& tensors,
                             const std::map<std::string, std::string>& metadata = {});

absl::Status WriteFile(const std::string& path, const std::string& bytes);
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& tensors);
// Splits `tensors` in order over `num_shards` files `model-0000k-of-0000n.safetensors` in `dir`
// and writes `model.safetensors.index.json` mapping each name to its shard.
// REQUIRES: 1 <= num_shards <= tensors.size().
absl::Status WriteShardedSafetensors(const std::string& dir, const std::vector<TensorSpec>& tensors,
                                     int num_shards);

// A tiny Hymba config.json with the 1.5B model's features at toy sizes: H 32, 4 heads (2 K/V),
// 6 layers, global layers [0, 5], SWA window 5, reuse groups [1, 2] and [3, 4], 3 meta tokens,
// ntk RoPE, tied embeddings, gated SiLU FFN, dt rank "auto".
nlohmann::json TinyHymbaConfigJson();

// Every tensor a checkpoint for `config` holds, with random values in `dtype`. `lm_head.weight`
// is included only when tie_word_embeddings is false. REQUIRES: `config` is well formed.
std::vector<TensorSpec> HymbaCheckpointTensors(const nlohmann::json& config,
                                               const std::string& dtype, uint64_t seed = 1);

// Writes `<dir>/config.json` and `<dir>/model.safetensors`.
absl::Status WriteCheckpoint(const std::string& dir, const nlohmann::json& config,
                             const std::vector<TensorSpec>& tensors);

}  // namespace hymba::testing
