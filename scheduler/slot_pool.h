// SlotPool: which of the engine's fixed sequence slots are free. Admission control is "is a slot
// free?" (DESIGN.md): Hymba's per-sequence state has a fixed size, so there is no paging.
//
// Thread safety: not thread-safe; the engine loop owns it.
#pragma once

#include <optional>
#include <vector>

namespace hymba::scheduler {

class SlotPool {
 public:
  explicit SlotPool(int num_slots);

  // The lowest free slot, now taken; nullopt when all are taken.
  std::optional<int> Acquire();
  // REQUIRES: `slot` was acquired and not yet released.
  void Release(int slot);

  int num_slots() const { return static_cast<int>(in_use_.size()); }
  int num_free() const { return num_free_; }
  bool in_use(int slot) const { return in_use_[slot]; }

 private:
  std::vector<bool> in_use_;
  int num_free_;
};

}  // namespace hymba::scheduler
