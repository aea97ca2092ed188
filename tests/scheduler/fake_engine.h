// FakeEngine: an Engine for scheduler tests. It checks every plan the way the real engine does
// (slot range, start_pos equal to the slot's length, ids in the vocabulary, context limit) and
// answers with logits that depend only on the sequence's own tokens, so a request's output is
// the same whatever shares its batch. A step can be made to fail on demand.
//
// Thread safety: not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/api/engine.h"

namespace hymba::testing {

class FakeEngine : public engine::Engine {
 public:
  FakeEngine(int slots, int max_seq_len, int vocab, int eos);

  absl::StatusOr<engine::StepResult> Step(const engine::BatchPlan& plan) override;
  int SlotLength(int slot) const override { return static_cast<int>(history_[slot].size()); }
  const engine::EngineInfo& info() const override { return info_; }

  // The next Step fails with Internal (and changes no state).
  void FailNextStep() { fail_next_ = true; }
  int steps() const { return steps_; }

  // The logits row the fake model gives after `history` (exposed for expectations).
  static void Logits(const std::vector<int32_t>& history, int vocab, int eos, float* out);

 private:
  engine::EngineInfo info_;
  std::vector<std::vector<int32_t>> history_;  // [slot] tokens fed since the last reset
  bool fail_next_ = false;
  int steps_ = 0;
};

}  // namespace hymba::testing
