// HymbaWeights: every tensor of a Hymba checkpoint (HYMBA.md "Tensors"), looked up by name and
// shape-checked against the config. Views borrow from the SafetensorsArchive, which must outlive
// the weights.
//
// Errors: Load returns InvalidArgument naming the tensor for a missing, extra or mis-shaped tensor
// (e.g. "model.layers.3.mamba.in_proj.weight: shape [10, 16], expected [12, 16]").
// Thread safety: immutable after Load.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/hymba_config.h"
#include "engine/model/safetensors.h"

namespace hymba::engine {

struct HymbaLayerWeights {
  const TensorView* input_layernorm = nullptr;     // [H]
  const TensorView* in_proj = nullptr;             // [P_i, H]  rows q | (k | v) | x | z
  const TensorView* in_proj_bias = nullptr;        // [P_i]     only with mamba_proj_bias
  const TensorView* conv1d_weight = nullptr;       // [I, 1, Kc]
  const TensorView* conv1d_bias = nullptr;         // [I]       only with mamba_conv_bias
  const TensorView* x_proj = nullptr;              // [R + 2N, I] rows dt | B | C
  const TensorView* dt_proj_weight = nullptr;      // [I, R]
  const TensorView* dt_proj_bias = nullptr;        // [I]
  const TensorView* a_log = nullptr;               // [I, N]
  const TensorView* d = nullptr;                   // [I]
  const TensorView* dt_layernorm = nullptr;        // [R]  only with mamba_inner_layernorms
  const TensorView* b_layernorm = nullptr;         // [N]  only with mamba_inner_layernorms
  const TensorView* c_layernorm = nullptr;         // [N]  only with mamba_inner_layernorms
  const TensorView* pre_avg_layernorm1 = nullptr;  // [I]  attention-output norm
  const TensorView* pre_avg_layernorm2 = nullptr;  // [I]  SSM-output norm
  const TensorView* out_proj = nullptr;            // [H, I]
  const TensorView* out_proj_bias = nullptr;       // [H]  only with mamba_proj_bias
  const TensorView* pre_moe_layernorm = nullptr;   // [H]
  const TensorView* gate_proj = nullptr;           // [F, H] only for the gated (silu) FFN
  const TensorView* up_proj = nullptr;             // [F, H]
  const TensorView* down_proj = nullptr;           // [H, F]
};

struct HymbaWeights {
  const TensorView* embed_tokens = nullptr;     // [V, H]
  const TensorView* memory_tokens = nullptr;    // [M, H] (nullptr when M == 0)
  const TensorView* final_layernorm = nullptr;  // [H]
  const TensorView* lm_head = nullptr;          // [V, H]; == embed_tokens when tied and absent
  std::vector<HymbaLayerWeights> layers;        // [L]

  static absl::StatusOr<HymbaWeights> Load(const SafetensorsArchive& archive,
                                           const HymbaConfig& config);
};

}  // namespace hymba::engine
