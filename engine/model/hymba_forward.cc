#include "engine/model/hymba_forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace hymba::engine {

struct HymbaForward::Layer {
  // [n] vectors in f32.
  DeviceBuffer input_norm, pre_avg1, pre_avg2, pre_moe, dt_norm, b_norm, c_norm;
  DeviceBuffer conv_w;             // [Kc, I] tap-major
  DeviceBuffer conv_b;             // [I] (empty without mamba_conv_bias)
  DeviceBuffer dt_bias;            // [I]
  DeviceBuffer a;                  // [I, N] = -exp(A_log)
  DeviceBuffer d;                  // [I]
  DeviceBuffer in_bias, out_bias;  // [P], [H] (only with mamba_proj_bias)
  std::unique_ptr<PackedWeight> in_proj, x_proj, dt_proj, out_proj, gate_up, down;
  int p_cols = 0;  // in_proj rows
};

namespace {

std::vector<float> ToF32(const TensorView& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  ConvertToF32(t.dtype, t.data, out.size(), out.data());
  return out;
}

// Host source for a packed weight; f16 is widened to f32 (the backends pack f32 or bf16).
struct HostSource {
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  HostMatrix matrix;
};

HostSource MatrixFrom(const std::vector<const TensorView*>& parts) {
  HostSource s;
  const int k = static_cast<int>(parts[0]->shape[1]);
  int n = 0;
  bool all_bf16 = true;
  for (const TensorView* p : parts) {
    n += static_cast<int>(p->shape[0]);
    all_bf16 = all_bf16 && p->dtype == DType::kBF16;
  }
  if (parts.size() == 1 && (parts[0]->dtype != DType::kF16)) {
    s.matrix = {parts[0]->data, parts[0]->dtype == DType::kBF16, n, k};
    return s;
  }
  if (all_bf16) {
    for (const TensorView* p : parts) {
      const uint16_t* d = static_cast<const uint16_t*>(p->data);
      s.bf16.insert(s.bf16.end(), d, d + p->numel());
    }
    s.matrix = {s.bf16.data(), true, n, k};
    return s;
  }
  for (const TensorView* p : parts) {
    std::vector<float> f = ToF32(*p);
    s.f32.insert(s.f32.end(), f.begin(), f.end());
  }
  s.matrix = {s.f32.data(), false, n, k};
  return s;
}

}  // namespace

HymbaForward::HymbaForward(const HymbaConfig& config, Backend* backend)
    : config_(config), backend_(backend) {}
HymbaForward::~HymbaForward() = default;

absl::StatusOr<std::unique_ptr<HymbaForward>> HymbaForward::Create(const HymbaConfig& config,
                                                                   const HymbaWeights& weights,
                                                                   Backend* backend) {
  std::unique_ptr<HymbaForward> f(new HymbaForward(config, backend));
  const int L = config.num_hidden_layers;
  f->group_last_.assign(L, -1);
  for (int i = 0; i < L; ++i) {
    const int p = config.kv_producer(i);
    f->group_last_[p] = std::max(f->group_last_[p], i);
  }
  HY_RETURN_IF_ERROR(f->LoadWeights(weights));
  return f;
}

absl::Status HymbaForward::LoadWeights(const HymbaWeights& w) {
  auto upload = [&](const std::vector<float>& host, DeviceBuffer* dst) -> absl::Status {
    HY_ASSIGN_OR_RETURN(*dst, backend_->Allocate(host.size() * sizeof(float)));
    backend_->CopyToDevice(dst->data(), host.data(), host.size() * sizeof(float));
    weight_bytes_ += dst->bytes();
    return absl::OkStatus();
  };
  auto upload_view = [&](const TensorView* t, DeviceBuffer* dst) -> absl::Status {
    if (t == nullptr) return absl::OkStatus();
    const std::vector<float> host = ToF32(*t);
    ReleaseResidentPages(*t);
    return upload(host, dst);
  };
  auto pack = [&](const std::vector<const TensorView*>& parts,
                  std::unique_ptr<PackedWeight>* dst) -> absl::Status {
    HostSource src = MatrixFrom(parts);
    HY_ASSIGN_OR_RETURN(*dst, backend_->PackWeight(src.matrix));
    weight_bytes_ += (*dst)->bytes();
    for (const TensorView* part : parts) ReleaseResidentPages(*part);
    return absl::OkStatus();
  };
  const int I = config_.d_inner(), Kc = config_.mamba_d_conv;
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    const HymbaLayerWeights& lw = w.layers[i];
    auto layer = std::make_unique<Layer>();
    layer->p_cols = config_.in_proj_rows(i);
    HY_RETURN_IF_ERROR(upload_view(lw.input_layernorm, &layer->input_norm));
    HY_RETURN_IF_ERROR(upload_view(lw.pre_avg_layernorm1, &layer->pre_avg1));
    HY_RETURN_IF_ERROR(upload_view(lw.pre_avg_layernorm2, &layer->pre_avg2));
    HY_RETURN_IF_ERROR(upload_view(lw.pre_moe_layernorm, &layer->pre_moe));
    HY_RETURN_IF_ERROR(upload_view(lw.dt_layernorm, &layer->dt_norm));
    HY_RETURN_IF_ERROR(upload_view(lw.b_layernorm, &layer->b_norm));
    HY_RETURN_IF_ERROR(upload_view(lw.c_layernorm, &layer->c_norm));
    HY_RETURN_IF_ERROR(upload_view(lw.conv1d_bias, &layer->conv_b));
    HY_RETURN_IF_ERROR(upload_view(lw.dt_proj_bias, &layer->dt_bias));
    HY_RETURN_IF_ERROR(upload_view(lw.d, &layer->d));
    HY_RETURN_IF_ERROR(upload_view(lw.in_proj_bias, &layer->in_bias));
    HY_RETURN_IF_ERROR(upload_view(lw.out_proj_bias, &layer->out_bias));
    // conv1d.weight [I, 1, Kc] -> tap-major [Kc, I] so kernels read channels contiguously.
    std::vector<float> conv = ToF32(*lw.conv1d_weight), conv_t(conv.size());
    for (int c = 0; c < I; ++c)
      for (int j = 0; j < Kc; ++j) conv_t[static_cast<size_t>(j) * I + c] = conv[c * Kc + j];
    HY_RETURN_IF_ERROR(upload(conv_t, &layer->conv_w));
    std::vector<float> a = ToF32(*lw.a_log);
    for (float& v : a) v = -std::exp(v);  // A = -exp(A_log)
    HY_RETURN_IF_ERROR(upload(a, &layer->a));
    HY_RETURN_IF_ERROR(pack({lw.in_proj}, &layer->in_proj));
    HY_RETURN_IF_ERROR(pack({lw.x_proj}, &layer->x_proj));
    HY_RETURN_IF_ERROR(pack({lw.dt_proj_weight}, &layer->dt_proj));
    HY_RETURN_IF_ERROR(pack({lw.out_proj}, &layer->out_proj));
    if (config_.mlp_hidden_act == MlpActivation::kSilu) {
      // gate and up share one GEMM: rows [gate ; up].
      HY_RETURN_IF_ERROR(pack({lw.gate_proj, lw.up_proj}, &layer->gate_up));
    } else {
      HY_RETURN_IF_ERROR(pack({lw.up_proj}, &layer->gate_up));
    }
    HY_RETURN_IF_ERROR(pack({lw.down_proj}, &layer->down));
    layers_.push_back(std::move(layer));
  }
  // The lookup table: bf16 in bf16 precision (half the memory), f32 otherwise.
  const TensorView& emb = *w.embed_tokens;
  embed_bf16_ = backend_->precision() == Precision::kBf16;
  const size_t count = static_cast<size_t>(emb.numel());
  if (embed_bf16_) {
    std::vector<uint16_t> host(count);
    ConvertToBf16(emb.dtype, emb.data, count, host.data());
    ReleaseResidentPages(emb);
    HY_ASSIGN_OR_RETURN(embed_, backend_->Allocate(count * 2));
    backend_->CopyToDevice(embed_.data(), host.data(), count * 2);
    weight_bytes_ += embed_.bytes();
  } else {
    HY_RETURN_IF_ERROR(upload_view(&emb, &embed_));
  }
  HY_RETURN_IF_ERROR(upload_view(w.memory_tokens, &meta_embed_));
  HY_RETURN_IF_ERROR(upload_view(w.final_layernorm, &final_norm_));
  HY_RETURN_IF_ERROR(pack({w.lm_head}, &lm_head_));
  return absl::OkStatus();
}

absl::Status HymbaForward::EnsureScratch(int rows) {
  if (rows <= scratch_rows_) return absl::OkStatus();
  const size_t T = static_cast<size_t>(std::max(rows, 16));
  const size_t H = config_.hidden_size, I = config_.d_inner(), F = config_.intermediate_size;
  const size_t R = config_.mamba_dt_rank, N = config_.mamba_d_state;
  size_t p_max = 0;
  for (const auto& l : layers_) p_max = std::max<size_t>(p_max, l->p_cols);
  auto alloc = [&](size_t floats, DeviceBuffer* b) -> absl::Status {
    HY_ASSIGN_OR_RETURN(*b, backend_->Allocate(floats * sizeof(float)));
    return absl::OkStatus();
  };
  HY_RETURN_IF_ERROR(alloc(T * H, &h_));
  HY_RETURN_IF_ERROR(alloc(T * std::max(H, 2 * F), &u_));
  HY_RETURN_IF_ERROR(alloc(T * p_max, &p_));
  HY_RETURN_IF_ERROR(alloc(T * I, &xc_));
  HY_RETURN_IF_ERROR(alloc(T * (R + 2 * N), &xdbl_));
  HY_RETURN_IF_ERROR(alloc(T * I, &dt_));
  HY_RETURN_IF_ERROR(alloc(T * I, &attn_));
  HY_RETURN_IF_ERROR(alloc(T * I, &y_));
  kv_.resize(config_.num_hidden_layers);
  const size_t kv_cols = config_.kv_width_k() + config_.kv_width_v();
  for (int i = 0; i < config_.num_hidden_layers; ++i)
    if (config_.is_kv_producer(i)) HY_RETURN_IF_ERROR(alloc(T * kv_cols, &kv_[i]));
  scratch_rows_ = static_cast<int>(T);
  return absl::OkStatus();
}

absl::Status HymbaForward::Run(const ForwardBatch& batch, const StateView& state,
                               float* logits_host) {
  const int T = static_cast<int>(batch.positions.size());
  const int H = config_.hidden_size;
  backend_->PrepareThread();
  HY_RETURN_IF_ERROR(EnsureScratch(T));
  // Every buffer is in place before the first layer changes slot state.
  const int R = static_cast<int>(batch.logit_rows.size());
  const int V = config_.vocab_size;
  if (R > logits_rows_) {
    HY_ASSIGN_OR_RETURN(logits_, backend_->Allocate(static_cast<size_t>(R) * V * 4));
    HY_ASSIGN_OR_RETURN(last_h_, backend_->Allocate(static_cast<size_t>(R) * H * 4));
    logits_rows_ = R;
  }
  if (batch.ids.empty()) {
    backend_->CopyDeviceToDevice(h_.data(), meta_embed_.data(), static_cast<size_t>(T) * H * 4);
  } else {
    backend_->Embed(batch.ids.data(), T, embed_.data(), embed_bf16_, H, h_.f32(), H);
  }
  for (int i = 0; i < config_.num_hidden_layers; ++i) RunLayer(i, batch, state);
  if (absl::Status failed = backend_->TakeError(); !failed.ok())
    return absl::InternalError(absl::StrCat("forward pass failed: ", failed.message()));
  if (R == 0) return absl::OkStatus();
  backend_->GatherRows(h_.f32(), H, batch.logit_rows.data(), R, H, last_h_.f32(), H);
  backend_->RmsNorm(last_h_.f32(), H, R, H, final_norm_.f32(), config_.rms_norm_eps, last_h_.f32(),
                    H);
  backend_->Gemm(last_h_.f32(), H, R, *lm_head_, logits_.f32(), V, false);
  backend_->CopyToHost(logits_host, logits_.data(), static_cast<size_t>(R) * V * 4);
  return backend_->TakeError();
}

void HymbaForward::RunLayer(int i, const ForwardBatch& batch, const StateView& state) {
  const int T = static_cast<int>(batch.positions.size());
  const int H = config_.hidden_size;
  const Layer& l = *layers_[i];
  // 1. u = RMSNorm(h); p = u·in_projᵀ  -> [T, P] = q | (k | v) | x | z
  backend_->RmsNorm(h_.f32(), H, T, H, l.input_norm.f32(), config_.rms_norm_eps, u_.f32(), H);
  backend_->Gemm(u_.f32(), H, T, *l.in_proj, p_.f32(), l.p_cols, false);
  if (l.in_bias.data() != nullptr)
    backend_->AddBias(p_.f32(), l.p_cols, T, l.p_cols, l.in_bias.f32());
  RunAttention(i, batch, state);  // -> attn_ [T, I]
  RunSsm(i, batch, state);        // -> y_ [T, I]
  // 4. h += ((RMSNorm(a) + RMSNorm(y)) / 2)·out_projᵀ
  const int I = config_.d_inner();
  backend_->FuseNorms(attn_.f32(), I, l.pre_avg1.f32(), y_.f32(), I, l.pre_avg2.f32(), T, I,
                      config_.rms_norm_eps, xc_.f32(), I);
  backend_->Gemm(xc_.f32(), I, T, *l.out_proj, h_.f32(), H, true);
  if (l.out_bias.data() != nullptr) backend_->AddBias(h_.f32(), H, T, H, l.out_bias.f32());
  RunFfn(i, T);
}

void HymbaForward::RunAttention(int i, const ForwardBatch& batch, const StateView& state) {
  const int T = static_cast<int>(batch.positions.size());
  const Layer& l = *layers_[i];
  const int H = config_.hidden_size, dq = config_.head_dim_qk(), dv = config_.head_dim_v();
  const int nh = config_.num_attention_heads, kvh = config_.num_key_value_heads;
  const int kw = config_.kv_width_k(), vw = config_.kv_width_v(), kv_cols = kw + vw;
  const double base = config_.rope_base();
  float* q = p_.f32();
  if (config_.is_kv_producer(i)) {
    // Keep this step's K | V for the whole group (the next layers overwrite p_).
    backend_->CopyMatrix(p_.f32() + H, l.p_cols, T, kv_cols, kv_[i].f32(), kv_cols);
    if (config_.rope)
      backend_->Rope(kv_[i].f32(), kv_cols, T, kvh, dq, batch.positions.data(), base);
  }
  if (config_.rope) backend_->Rope(q, l.p_cols, T, nh, dq, batch.positions.data(), base);
  const int prod = config_.kv_producer(i);
  AttentionArgs a;
  a.seqs = batch.seqs;
  a.q = q;
  a.ld_q = l.p_cols;
  a.k = kv_[prod].f32();
  a.ld_k = kv_cols;
  a.v = kv_[prod].f32() + kw;
  a.ld_v = kv_cols;
  a.out = attn_.f32();
  a.ld_out = config_.d_inner();
  a.cache_bf16 = state.kv_bf16;
  a.prefix_k = state.prefix_k[prod];
  a.prefix_v = state.prefix_v[prod];
  a.prefix_len = state.prefix_len;
  a.ring_k = state.ring_k[prod];
  a.ring_v = state.ring_v[prod];
  a.capacity = state.capacity[prod];
  a.window = config_.is_global(i) ? 0 : config_.sliding_window;
  a.num_meta = config_.num_memory_tokens;
  a.nh = nh;
  a.kvh = kvh;
  a.dq = dq;
  a.dv = dv;
  a.scale = 1.0f / std::sqrt(static_cast<float>(dq));
  backend_->Attention(a);
  if (group_last_[prod] == i) {
    KvWriteArgs w;
    w.seqs = batch.seqs;
    w.k = kv_[prod].f32();
    w.ld_k = kv_cols;
    w.v = kv_[prod].f32() + kw;
    w.ld_v = kv_cols;
    w.cache_bf16 = state.kv_bf16;
    w.ring_k = state.ring_k[prod];
    w.ring_v = state.ring_v[prod];
    w.capacity = state.capacity[prod];
    w.ring_base = state.ring_position_base;
    w.k_width = kw;
    w.v_width = vw;
    backend_->KvWrite(w);
  }
}

void HymbaForward::RunSsm(int i, const ForwardBatch& batch, const StateView& state) {
  const int T = static_cast<int>(batch.positions.size());
  const Layer& l = *layers_[i];
  const int I = config_.d_inner(), N = config_.mamba_d_state, R = config_.mamba_dt_rank;
  const int xoff = l.p_cols - 2 * I, zoff = l.p_cols - I, xd = R + 2 * N;
  const float eps = config_.rms_norm_eps;
  CausalConvArgs c;
  c.seqs = batch.seqs;
  c.x = p_.f32() + xoff;
  c.ld_x = l.p_cols;
  c.out = xc_.f32();
  c.ld_out = I;
  c.weight = l.conv_w.f32();
  c.bias = l.conv_b.data() ? l.conv_b.f32() : nullptr;
  c.state = state.conv[i];
  c.channels = I;
  c.kernel = config_.mamba_d_conv;
  backend_->CausalConv(c);
  // [dt_r | B | C] = xc·x_projᵀ, optionally RMS-normed piecewise.
  float* xdbl = xdbl_.f32();
  backend_->Gemm(xc_.f32(), I, T, *l.x_proj, xdbl, xd, false);
  if (config_.mamba_inner_layernorms) {
    backend_->RmsNorm(xdbl, xd, T, R, l.dt_norm.f32(), eps, xdbl, xd);
    backend_->RmsNorm(xdbl + R, xd, T, N, l.b_norm.f32(), eps, xdbl + R, xd);
    backend_->RmsNorm(xdbl + R + N, xd, T, N, l.c_norm.f32(), eps, xdbl + R + N, xd);
  }
  backend_->Gemm(xdbl, xd, T, *l.dt_proj, dt_.f32(), I, false);
  backend_->BiasSoftplus(dt_.f32(), I, T, I, l.dt_bias.f32());
  SelectiveScanArgs s;
  s.seqs = batch.seqs;
  s.xc = xc_.f32();
  s.ld_xc = I;
  s.dt = dt_.f32();
  s.ld_dt = I;
  s.b = xdbl + R;
  s.ld_b = xd;
  s.c = xdbl + R + N;
  s.ld_c = xd;
  s.z = p_.f32() + zoff;
  s.ld_z = l.p_cols;
  s.y = y_.f32();
  s.ld_y = I;
  s.a = l.a.f32();
  s.d = l.d.f32();
  s.state = state.ssm[i];
  s.channels = I;
  s.d_state = N;
  backend_->SelectiveScan(s);
}

void HymbaForward::RunFfn(int i, int T) {
  const Layer& l = *layers_[i];
  const int H = config_.hidden_size, F = config_.intermediate_size;
  const bool gated = config_.mlp_hidden_act == MlpActivation::kSilu;
  const int cols = gated ? 2 * F : F;
  // 5. h += down(SiLU(gate(v)) ⊙ up(v)) or down(relu(up(v))²), v = RMSNorm(h)
  backend_->RmsNorm(h_.f32(), H, T, H, l.pre_moe.f32(), config_.rms_norm_eps, p_.f32(), H);
  backend_->Gemm(p_.f32(), H, T, *l.gate_up, u_.f32(), cols, false);
  backend_->GatedActivation(u_.f32(), cols, u_.f32() + F, cols, T, F, !gated);
  backend_->Gemm(u_.f32(), cols, T, *l.down, h_.f32(), H, true);
}

}  // namespace hymba::engine
