#include "engine/kv/slot_store.h"

#include <cstdint>

#include "engine/base/status_macros.h"

namespace hymba::engine {

absl::StatusOr<std::unique_ptr<SlotStore>> SlotStore::Create(const HymbaConfig& config,
                                                             Backend* backend, int max_slots,
                                                             int max_seq_len, bool kv_bf16) {
  std::unique_ptr<SlotStore> s(new SlotStore(config, backend));
  HY_RETURN_IF_ERROR(s->Allocate(max_slots, max_seq_len, kv_bf16));
  return s;
}

absl::Status SlotStore::Allocate(int max_slots, int max_seq_len, bool kv_bf16) {
  const int L = config_.num_hidden_layers, I = config_.d_inner(), M = config_.num_memory_tokens;
  conv_floats_ = static_cast<size_t>(config_.mamba_d_conv - 1) * I;
  ssm_floats_ = static_cast<size_t>(I) * config_.mamba_d_state;
  const size_t kw = config_.kv_width_k(), vw = config_.kv_width_v();
  auto alloc = [&](size_t floats, DeviceBuffer* b) -> absl::Status {
    HY_ASSIGN_OR_RETURN(*b, backend_->Allocate(floats * sizeof(float)));
    return absl::OkStatus();
  };
  const size_t kv_elem = kv_bf16 ? 2 : sizeof(float);
  kv_elem_ = kv_elem;
  auto alloc_kv = [&](size_t elems, DeviceBuffer* b) -> absl::Status {
    HY_ASSIGN_OR_RETURN(*b, backend_->Allocate(elems * kv_elem));
    return absl::OkStatus();
  };
  conv_.resize(L);
  ssm_.resize(L);
  snap_conv_.resize(L);
  snap_ssm_.resize(L);
  ring_k_.resize(L);
  ring_v_.resize(L);
  prefix_k_.resize(L);
  prefix_v_.resize(L);
  StateView& v = slots_view_;
  v.conv.assign(L, nullptr);
  v.ssm.assign(L, nullptr);
  v.ring_k.assign(L, nullptr);
  v.ring_v.assign(L, nullptr);
  v.capacity.assign(L, 0);
  v.prefix_k.assign(L, nullptr);
  v.prefix_v.assign(L, nullptr);
  v.prefix_len = M;
  v.ring_position_base = M;
  v.kv_bf16 = kv_bf16;
  for (int i = 0; i < L; ++i) {
    HY_RETURN_IF_ERROR(alloc(conv_floats_ * max_slots, &conv_[i]));
    HY_RETURN_IF_ERROR(alloc(ssm_floats_ * max_slots, &ssm_[i]));
    HY_RETURN_IF_ERROR(alloc(conv_floats_, &snap_conv_[i]));
    HY_RETURN_IF_ERROR(alloc(ssm_floats_, &snap_ssm_[i]));
    bytes_per_slot_ += (conv_floats_ + ssm_floats_) * sizeof(float);
    v.conv[i] = conv_[i].f32();
    v.ssm[i] = ssm_[i].f32();
    if (!config_.is_kv_producer(i)) continue;
    const int cap =
        config_.is_global(i) ? max_seq_len : std::min(config_.sliding_window, max_seq_len);
    HY_RETURN_IF_ERROR(alloc_kv(static_cast<size_t>(max_slots) * cap * kw, &ring_k_[i]));
    HY_RETURN_IF_ERROR(alloc_kv(static_cast<size_t>(max_slots) * cap * vw, &ring_v_[i]));
    HY_RETURN_IF_ERROR(alloc_kv(static_cast<size_t>(std::max(M, 1)) * kw, &prefix_k_[i]));
    HY_RETURN_IF_ERROR(alloc_kv(static_cast<size_t>(std::max(M, 1)) * vw, &prefix_v_[i]));
    bytes_per_slot_ += static_cast<size_t>(cap) * (kw + vw) * kv_elem;
    prefix_bytes_ += static_cast<size_t>(M) * (kw + vw) * kv_elem;
    v.ring_k[i] = ring_k_[i].data();
    v.ring_v[i] = ring_v_[i].data();
    v.capacity[i] = cap;
    v.prefix_k[i] = prefix_k_[i].data();
    v.prefix_v[i] = prefix_v_[i].data();
  }
  return absl::OkStatus();
}

StateView SlotStore::MetaPassView(int target_slot) {
  const int L = config_.num_hidden_layers, M = config_.num_memory_tokens;
  StateView v = slots_view_;
  for (int i = 0; i < L; ++i) {
    if (target_slot < 0) {
      v.conv[i] = snap_conv_[i].f32();
      v.ssm[i] = snap_ssm_[i].f32();
    } else {
      v.conv[i] = conv_[i].f32() + conv_floats_ * target_slot;
      v.ssm[i] = ssm_[i].f32() + ssm_floats_ * target_slot;
    }
    if (!config_.is_kv_producer(i)) continue;
    // The "ring" of the meta pass is the shared prefix itself: one slot of capacity M.
    v.ring_k[i] = prefix_k_[i].data();
    v.ring_v[i] = prefix_v_[i].data();
    v.capacity[i] = std::max(M, 1);
  }
  v.prefix_len = 0;
  v.ring_position_base = 0;
  return v;
}

void SlotStore::ClearSlot(int slot) {
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    backend_->Fill(conv_[i].f32() + conv_floats_ * slot, conv_floats_ * sizeof(float), 0);
    backend_->Fill(ssm_[i].f32() + ssm_floats_ * slot, ssm_floats_ * sizeof(float), 0);
  }
}

void SlotStore::ResetSlot(int slot) {
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    backend_->CopyDeviceToDevice(conv_[i].f32() + conv_floats_ * slot, snap_conv_[i].data(),
                                 conv_floats_ * sizeof(float));
    backend_->CopyDeviceToDevice(ssm_[i].f32() + ssm_floats_ * slot, snap_ssm_[i].data(),
                                 ssm_floats_ * sizeof(float));
  }
}

void SlotStore::CopySlot(int from, int to) {
  if (from == to) return;
  const size_t kw = config_.kv_width_k(), vw = config_.kv_width_v();
  for (int i = 0; i < config_.num_hidden_layers; ++i) {
    backend_->CopyDeviceToDevice(conv_[i].f32() + conv_floats_ * to,
                                 conv_[i].f32() + conv_floats_ * from, conv_floats_ * 4);
    backend_->CopyDeviceToDevice(ssm_[i].f32() + ssm_floats_ * to,
                                 ssm_[i].f32() + ssm_floats_ * from, ssm_floats_ * 4);
    if (!config_.is_kv_producer(i)) continue;
    const size_t k_bytes = static_cast<size_t>(slots_view_.capacity[i]) * kw * kv_elem_;
    const size_t v_bytes = static_cast<size_t>(slots_view_.capacity[i]) * vw * kv_elem_;
    uint8_t* k = static_cast<uint8_t*>(ring_k_[i].data());
    uint8_t* v = static_cast<uint8_t*>(ring_v_[i].data());
    backend_->CopyDeviceToDevice(k + k_bytes * to, k + k_bytes * from, k_bytes);
    backend_->CopyDeviceToDevice(v + v_bytes * to, v + v_bytes * from, v_bytes);
  }
}

}  // namespace hymba::engine
