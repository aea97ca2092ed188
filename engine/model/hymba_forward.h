// HymbaForward: Hymba's forward pass (HYMBA.md "Forward pass") written once against the Backend
// interface. It owns the model's weights in device memory (GEMM weights packed by the backend)
// and the per-step scratch activations; per-sequence state is passed in as a StateView.
//
// One Run processes a packed batch: all entries' rows form one [T, H] activation matrix, every
// weight is applied with one GEMM over all T rows, and attention / conv / scan run per entry
// against that entry's slot. K/V produced by a step are committed to the rings only after every
// layer of the producer's kv_reuse group has attended, so each layer sees the pre-step rings.
//
// Ownership: borrows the Backend (must outlive this object); copies what it needs from the
// weights at Create, so the checkpoint mapping may be released afterwards.
// Errors: Create returns the backend's allocation/packing errors.
// Thread safety: not thread-safe; the engine loop owns it.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/api/backend.h"
#include "engine/model/hymba_config.h"
#include "engine/model/hymba_weights.h"

namespace hymba::engine {

// Device pointers to the per-sequence state a Run reads and updates.
struct StateView {
  std::vector<float*> conv;            // [L] each [slots, Kc-1, I]
  std::vector<float*> ssm;             // [L] each [slots, I, N]
  bool kv_bf16 = false;                // rings and prefix hold bf16 (else fp32)
  std::vector<void*> ring_k;           // [L] (producers only) each [slots, capacity, kvh, dq]
  std::vector<void*> ring_v;           // [L] (producers only) each [slots, capacity, kvh, dv]
  std::vector<int> capacity;           // [L] ring rows per slot (producers only)
  std::vector<const void*> prefix_k;   // [L] shared meta K [prefix_len, kvh, dq] (producers)
  std::vector<const void*> prefix_v;   // [L] shared meta V [prefix_len, kvh, dv] (producers)
  int prefix_len = 0;                  // M for sequences; 0 for the meta-token pass itself
  int ring_position_base = 0;          // position stored at ring row 0 (M; 0 for the meta pass)
};

// What one Run computes.
struct ForwardBatch {
  absl::Span<const SeqSpan> seqs;        // absolute positions; rows packed in order
  absl::Span<const int32_t> ids;         // [T] token ids, or empty for the meta-token pass
  absl::Span<const int32_t> positions;   // [T] absolute position of every row
  absl::Span<const int32_t> logit_rows;  // rows whose logits are wanted
};

class HymbaForward {
 public:
  static absl::StatusOr<std::unique_ptr<HymbaForward>> Create(const HymbaConfig& config,
                                                              const HymbaWeights& weights,
                                                              Backend* backend);
  ~HymbaForward();

  // Runs the batch, updating the state; writes logits [logit_rows.size(), V] to `logits_host`.
  // REQUIRES: batch consistent with `state` (slots in range, rings hold the positions before
  // each entry). For the meta pass `ids` is empty and rows are the M meta tokens.
  absl::Status Run(const ForwardBatch& batch, const StateView& state, float* logits_host);

  const HymbaConfig& config() const { return config_; }
  size_t weight_bytes() const { return weight_bytes_; }
  // Bytes a one-token step streams: every weight except the embedding lookup table.
  size_t streamed_weight_bytes() const { return weight_bytes_ - embed_.bytes(); }

 private:
  struct Layer;
  HymbaForward(const HymbaConfig& config, Backend* backend);
  absl::Status LoadWeights(const HymbaWeights& weights);
  absl::Status EnsureScratch(int rows);
  void RunLayer(int i, const ForwardBatch& batch, const StateView& state);
  void RunAttention(int i, const ForwardBatch& batch, const StateView& state);
  void RunSsm(int i, const ForwardBatch& batch, const StateView& state);
  void RunFfn(int i, int rows);

  HymbaConfig config_;
  Backend* backend_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<int> group_last_;  // [L] for a producer: the last layer reading its K/V
  DeviceBuffer embed_;           // [V, H] f32 or bf16 (for the lookup)
  bool embed_bf16_ = false;
  DeviceBuffer meta_embed_;  // [M, H] f32
  DeviceBuffer final_norm_;  // [H]
  std::unique_ptr<PackedWeight> lm_head_;
  size_t weight_bytes_ = 0;

  // Scratch, grown to the largest batch seen. Shapes for T rows:
  int scratch_rows_ = 0;
  DeviceBuffer h_;                // [T, H] residual stream
  DeviceBuffer u_;                // [T, max(H, 2F)] normed input / FFN hidden
  DeviceBuffer p_;                // [T, P_max] in_proj output
  DeviceBuffer xc_;               // [T, I]
  DeviceBuffer xdbl_;             // [T, R + 2N]
  DeviceBuffer dt_;               // [T, I]
  DeviceBuffer attn_;             // [T, I]
  DeviceBuffer y_;                // [T, I]
  std::vector<DeviceBuffer> kv_;  // [L] producers: [T, kvh·dq + kvh·dv] post-RoPE K | V
  DeviceBuffer logits_;           // [R, V]
  DeviceBuffer last_h_;           // [R, H]
  int logits_rows_ = 0;
};

}  // namespace hymba::engine
