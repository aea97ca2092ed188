#include "engine/model/hymba_weights.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/base/status_macros.h"

namespace hymba::engine {
namespace {

using Shape = std::vector<int64_t>;

// Some exports include RoPE's inverse frequencies; they are recomputed from the config.
constexpr char kIgnoredSuffix[] = "rotary_emb.inv_freq";

std::string ShapeString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Looks tensors up by name, checks their shape and remembers which ones were consumed.
class TensorTaker {
 public:
  explicit TensorTaker(const SafetensorsArchive& archive) : archive_(archive) {}

  // The tensor `name` with exactly `shape`; InvalidArgument when absent or mis-shaped.
  absl::StatusOr<const TensorView*> Required(const std::string& name, const Shape& shape) {
    HY_ASSIGN_OR_RETURN(const TensorView* view, Optional(name, shape));
    if (view == nullptr) return absl::InvalidArgumentError(absl::StrCat("missing tensor ", name));
    return view;
  }

  // Like Required, but nullptr when absent.
  absl::StatusOr<const TensorView*> Optional(const std::string& name, const Shape& shape) {
    const TensorView* view = archive_.Find(name);
    if (view == nullptr) return nullptr;
    if (view->shape != shape) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: shape %s, expected %s", name, ShapeString(view->shape), ShapeString(shape)));
    }
    taken_.insert(name);
    return view;
  }

  // InvalidArgument naming the first tensor nobody took.
  absl::Status CheckAllTaken() const {
    for (const auto& [name, view] : archive_.tensors()) {
      if (taken_.count(name) == 0 && !absl::EndsWith(name, kIgnoredSuffix)) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected tensor ", name));
      }
    }
    return absl::OkStatus();
  }

 private:
  const SafetensorsArchive& archive_;
  std::set<std::string> taken_;
};

// Takes `name` as required when `present`, else leaves `*out` null (and the tensor, if the
// checkpoint has it anyway, is reported as unexpected by CheckAllTaken).
absl::Status TakeIf(TensorTaker& taker, bool present, const std::string& name, const Shape& shape,
                    const TensorView** out) {
  *out = nullptr;
  if (!present) return absl::OkStatus();
  HY_ASSIGN_OR_RETURN(*out, taker.Required(name, shape));
  return absl::OkStatus();
}

absl::Status LoadLayer(TensorTaker& t, const HymbaConfig& c, int i, HymbaLayerWeights* w) {
  // Sizes named as in HYMBA.md "Tensors".
  const int64_t H = c.hidden_size;
  const int64_t I = c.d_inner();
  const int64_t N = c.mamba_d_state;
  const int64_t R = c.mamba_dt_rank;
  const int64_t F = c.intermediate_size;
  const int64_t P = c.in_proj_rows(i);
  const std::string p = absl::StrCat("model.layers.", i, ".");
  const std::string m = p + "mamba.";

  HY_ASSIGN_OR_RETURN(w->input_layernorm, t.Required(p + "input_layernorm.weight", {H}));
  HY_ASSIGN_OR_RETURN(w->in_proj, t.Required(m + "in_proj.weight", {P, H}));
  HY_RETURN_IF_ERROR(TakeIf(t, c.mamba_proj_bias, m + "in_proj.bias", {P}, &w->in_proj_bias));
  HY_ASSIGN_OR_RETURN(w->conv1d_weight, t.Required(m + "conv1d.weight", {I, 1, c.mamba_d_conv}));
  HY_RETURN_IF_ERROR(TakeIf(t, c.mamba_conv_bias, m + "conv1d.bias", {I}, &w->conv1d_bias));
  HY_ASSIGN_OR_RETURN(w->x_proj, t.Required(m + "x_proj.0.weight", {R + 2 * N, I}));
  HY_ASSIGN_OR_RETURN(w->dt_proj_weight, t.Required(m + "dt_proj.0.weight", {I, R}));
  HY_ASSIGN_OR_RETURN(w->dt_proj_bias, t.Required(m + "dt_proj.0.bias", {I}));
  HY_ASSIGN_OR_RETURN(w->a_log, t.Required(m + "A_log.0", {I, N}));
  HY_ASSIGN_OR_RETURN(w->d, t.Required(m + "D.0", {I}));
  const bool inner = c.mamba_inner_layernorms;
  HY_RETURN_IF_ERROR(TakeIf(t, inner, m + "dt_layernorm.weight", {R}, &w->dt_layernorm));
  HY_RETURN_IF_ERROR(TakeIf(t, inner, m + "B_layernorm.weight", {N}, &w->b_layernorm));
  HY_RETURN_IF_ERROR(TakeIf(t, inner, m + "C_layernorm.weight", {N}, &w->c_layernorm));
  HY_ASSIGN_OR_RETURN(w->pre_avg_layernorm1, t.Required(m + "pre_avg_layernorm1.weight", {I}));
  HY_ASSIGN_OR_RETURN(w->pre_avg_layernorm2, t.Required(m + "pre_avg_layernorm2.weight", {I}));
  HY_ASSIGN_OR_RETURN(w->out_proj, t.Required(m + "out_proj.weight", {H, I}));
  HY_RETURN_IF_ERROR(TakeIf(t, c.mamba_proj_bias, m + "out_proj.bias", {H}, &w->out_proj_bias));

  const std::string e = p + "moe.experts.0.";
  HY_ASSIGN_OR_RETURN(w->pre_moe_layernorm, t.Required(p + "pre_moe_layernorm.weight", {H}));
  const bool gated = c.mlp_hidden_act == MlpActivation::kSilu;  // relu2 is ungated
  HY_RETURN_IF_ERROR(TakeIf(t, gated, e + "gate_proj.weight", {F, H}, &w->gate_proj));
  HY_ASSIGN_OR_RETURN(w->up_proj, t.Required(e + "up_proj.weight", {F, H}));
  HY_ASSIGN_OR_RETURN(w->down_proj, t.Required(e + "down_proj.weight", {H, F}));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HymbaWeights> HymbaWeights::Load(const SafetensorsArchive& archive,
                                                const HymbaConfig& config) {
  const int64_t V = config.vocab_size;
  const int64_t H = config.hidden_size;
  const int64_t M = config.num_memory_tokens;
  TensorTaker taker(archive);
  HymbaWeights w;
  HY_ASSIGN_OR_RETURN(w.embed_tokens, taker.Required("model.embed_tokens.weight", {V, H}));
  if (M > 0) {
    HY_ASSIGN_OR_RETURN(w.memory_tokens, taker.Required("model.memory_tokens", {M, H}));
  } else {
    // An export may still carry an empty [0, H] table; consume it but expose nothing.
    HY_RETURN_IF_ERROR(taker.Optional("model.memory_tokens", {0, H}).status());
  }
  HY_ASSIGN_OR_RETURN(w.final_layernorm, taker.Required("model.final_layernorm.weight", {H}));
  if (config.tie_word_embeddings) {
    HY_ASSIGN_OR_RETURN(w.lm_head, taker.Optional("lm_head.weight", {V, H}));
    if (w.lm_head == nullptr) w.lm_head = w.embed_tokens;
  } else {
    HY_ASSIGN_OR_RETURN(w.lm_head, taker.Required("lm_head.weight", {V, H}));
  }
  w.layers.resize(config.num_hidden_layers);
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    HY_RETURN_IF_ERROR(LoadLayer(taker, config, i, &w.layers[i]));
  }
  HY_RETURN_IF_ERROR(taker.CheckAllTaken());
  return w;
}

}  // namespace hymba::engine
