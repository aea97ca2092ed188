// Argument blocks of the Backend's sequence-aware ops (attention, causal conv, selective scan,
// K/V write). All pointers are device pointers of the backend that runs the op; `seqs` is host
// memory. Activations are fp32 row-major with a leading dimension (`ld_*`, in elements) so ops
// can read slices of the packed in_proj output without copies.
//
// Thread safety: plain data.
#pragma once

#include "absl/types/span.h"

namespace hymba::engine {

// One batch entry as the kernels see it.
struct SeqSpan {
  int slot = 0;       // state slot
  int row = 0;        // first row of this entry in the packed [T, *] activations
  int len = 0;        // tokens fed in this step
  int start_pos = 0;  // absolute position of the first token (meta tokens are 0..M-1)
};

// softmax(q·kᵀ·scale)·v over: the shared meta prefix, the slot's ring (positions before the
// entry's first token) and the entry's own rows, with HYMBA.md's visibility rule
// (key k visible to query q iff k <= q and (window == 0 or q - k <= window or k < num_meta)).
struct AttentionArgs {
  absl::Span<const SeqSpan> seqs;
  const float* q = nullptr;
  int ld_q = 0;  // [T, nh, dq], RoPE applied
  const float* k = nullptr;
  int ld_k = 0;  // [T, kvh, dq], RoPE applied
  const float* v = nullptr;
  int ld_v = 0;  // [T, kvh, dv]
  float* out = nullptr;
  int ld_out = 0;                   // [T, nh, dv]
  // The cache (prefix and ring) holds fp32, or bf16 bit patterns when cache_bf16.
  bool cache_bf16 = false;
  const void* prefix_k = nullptr;  // [prefix_len, kvh, dq]
  const void* prefix_v = nullptr;  // [prefix_len, kvh, dv]
  int prefix_len = 0;
  const void* ring_k = nullptr;  // [slots, capacity, kvh, dq]
  const void* ring_v = nullptr;  // [slots, capacity, kvh, dv]
  int capacity = 0;  // ring rows per slot; position p >= num_meta lives at RingIndex{capacity,
                     // num_meta}.Row(p) (the ring holds no meta positions in a sequence step)
  int window = 0;    // sliding window W; 0 = full attention
  int num_meta = 0;  // M
  int nh = 0, kvh = 0, dq = 0, dv = 0;
  float scale = 1.0f;
};

// Stores the last min(capacity, len) rows of each entry's K/V into its slot's ring (or, for the
// meta-token pass, into the shared prefix by passing a one-slot "ring" of capacity M and
// ring_base = 0).
struct KvWriteArgs {
  absl::Span<const SeqSpan> seqs;
  const float* k = nullptr;
  int ld_k = 0;  // [T, kvh, dq]
  const float* v = nullptr;
  int ld_v = 0;             // [T, kvh, dv]
  bool cache_bf16 = false;  // store bf16 (rounded to nearest even) instead of fp32
  void* ring_k = nullptr;   // [slots, capacity, kvh, dq]
  void* ring_v = nullptr;   // [slots, capacity, kvh, dv]
  int capacity = 0;
  int ring_base = 0;  // position stored at ring row 0: M for sequences, 0 for the meta pass
  int k_width = 0, v_width = 0;  // kvh·dq, kvh·dv
};

// xc = SiLU(depthwise causal conv over [conv state ; x] + bias); the conv state then holds the
// last Kc-1 inputs.
struct CausalConvArgs {
  absl::Span<const SeqSpan> seqs;
  const float* x = nullptr;
  int ld_x = 0;  // [T, I] pre-conv inputs
  float* out = nullptr;
  int ld_out = 0;                 // [T, I]
  const float* weight = nullptr;  // [Kc, I] (tap-major: tap Kc-1 multiplies x_t)
  const float* bias = nullptr;    // [I] or nullptr
  float* state = nullptr;         // [slots, Kc-1, I]: inputs x_{t-Kc+1..t-1}
  int channels = 0, kernel = 0;   // I, Kc
};

// Largest mamba_d_state any backend's scan supports (the engine refuses larger configs).
constexpr int kMaxSsmState = 256;

// Mamba-1 selective scan (HYMBA.md "SSM path"): s = exp(Δ⊙A)⊙s + (Δ⊙xc)⊗B;
// y = (s·C + D⊙xc) ⊙ SiLU(z).
struct SelectiveScanArgs {
  absl::Span<const SeqSpan> seqs;
  const float* xc = nullptr;
  int ld_xc = 0;  // [T, I]
  const float* dt = nullptr;
  int ld_dt = 0;  // [T, I] Δ after softplus
  const float* b = nullptr;
  int ld_b = 0;  // [T, N]
  const float* c = nullptr;
  int ld_c = 0;  // [T, N]
  const float* z = nullptr;
  int ld_z = 0;  // [T, I]
  float* y = nullptr;
  int ld_y = 0;                   // [T, I]
  const float* a = nullptr;       // [I, N]  A = -exp(A_log)
  const float* d = nullptr;       // [I]
  float* state = nullptr;         // [slots, I, N] fp32
  int channels = 0, d_state = 0;  // I, N
};

}  // namespace hymba::engine
