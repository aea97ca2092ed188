// SlotStore: the device memory of every sequence slot plus the shared meta-token prefix
// (DESIGN.md "Per-sequence state lives in slots").
//
// Per layer i:          conv  [slots, Kc-1, I]  (channel-contiguous for the conv kernel)
//                       ssm   [slots, I, N]     fp32
// Per KV-producer i:    ring K [slots, cap_i, kvh, dq], ring V [slots, cap_i, kvh, dv]
//                       in bf16 when `kv_bf16` (half the memory), else fp32
//                       cap_i = W for SWA layers, max_seq_len for full-attention layers
//                       prefix K [M, kvh, dq], prefix V [M, kvh, dv]   (shared, read-only)
// Meta snapshot:        conv [1, Kc-1, I], ssm [1, I, N] per layer: the state after the M meta
//                       tokens, copied into a slot on reset.
//
// Ownership: owns all buffers; borrows the Backend, which must outlive it.
// Errors: Create returns ResourceExhausted when memory runs out.
// Thread safety: not thread-safe; the engine loop owns it.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/api/backend.h"
#include "engine/model/hymba_config.h"
#include "engine/model/hymba_forward.h"

namespace hymba::engine {

class SlotStore {
 public:
  static absl::StatusOr<std::unique_ptr<SlotStore>> Create(const HymbaConfig& config,
                                                           Backend* backend, int max_slots,
                                                           int max_seq_len, bool kv_bf16);

  // State of the slots for sequence steps (prefix = the shared meta K/V).
  const StateView& slots_view() const { return slots_view_; }
  // State for running the meta tokens: writes the prefix K/V and the conv/SSM state of
  // `target_slot` (or of the snapshot when target_slot < 0). Its SeqSpan slot must be 0.
  StateView MetaPassView(int target_slot);

  // Copies the meta snapshot into `slot`'s conv and SSM state. Rings need no clearing: a reset
  // sequence never reads ring rows it has not written.
  void ResetSlot(int slot);

  // Zeroes `slot`'s conv and SSM state (before recomputing the meta tokens in it).
  void ClearSlot(int slot);

  // Copies slot `from`'s conv, SSM and K/V ring state into slot `to` (forks a sequence).
  // REQUIRES: both in range.
  void CopySlot(int from, int to);

  size_t bytes_per_slot() const { return bytes_per_slot_; }
  size_t shared_prefix_bytes() const { return prefix_bytes_; }

 private:
  SlotStore(const HymbaConfig& config, Backend* backend) : config_(config), backend_(backend) {}
  absl::Status Allocate(int max_slots, int max_seq_len, bool kv_bf16);

  HymbaConfig config_;
  Backend* backend_;
  size_t conv_floats_ = 0, ssm_floats_ = 0;  // per slot per layer
  size_t kv_elem_ = sizeof(float);           // bytes per K/V value
  std::vector<DeviceBuffer> conv_, ssm_, ring_k_, ring_v_, prefix_k_, prefix_v_;
  std::vector<DeviceBuffer> snap_conv_, snap_ssm_;
  StateView slots_view_;
  size_t bytes_per_slot_ = 0;
  size_t prefix_bytes_ = 0;
};

}  // namespace hymba::engine
