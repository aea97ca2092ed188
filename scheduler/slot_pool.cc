#include "scheduler/slot_pool.h"

#include <cstdio>
#include <cstdlib>

#include "engine/base/status_macros.h"

namespace hymba::scheduler {

SlotPool::SlotPool(int num_slots) : in_use_(num_slots, false), num_free_(num_slots) {}

std::optional<int> SlotPool::Acquire() {
  for (int s = 0; s < num_slots(); ++s) {
    if (!in_use_[s]) {
      in_use_[s] = true;
      --num_free_;
      return s;
    }
  }
  return std::nullopt;
}

void SlotPool::Release(int slot) {
  HY_CHECK(slot >= 0 && slot < num_slots() && in_use_[slot]);
  in_use_[slot] = false;
  ++num_free_;
}

}  // namespace hymba::scheduler
