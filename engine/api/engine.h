// Engine: runs one model over fixed per-sequence slots, one BatchPlan per Step.
//
// A slot holds a sequence's whole state (SSM and conv state per layer, K/V ring per KV-producing
// attention layer). A slot is (re)started with `reset_slot`; its length grows by the tokens fed.
// Errors: Step returns InvalidArgument naming the field for a malformed plan (slot out of range,
// start_pos not equal to the slot's length, token id out of vocabulary, context beyond
// max_seq_len, duplicate slot); the state of every slot is then unchanged. Internal/device errors
// return Internal and leave the plan's slots in an unspecified state (reset them).
// Thread safety: not thread-safe; one thread (the engine loop) calls everything.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/api/batch_plan.h"
#include "engine/api/step_result.h"

namespace hymba::engine {

// Capacity and identity, as logged at start-up and reported by the model-info RPC.
struct EngineInfo {
  std::string model_name;
  std::string device;     // "cpu" or "cuda:0 (NVIDIA ...)"
  std::string precision;  // "f32" or "bf16"
  int vocab_size = 0;
  int max_slots = 0;
  int max_seq_len = 0;  // prompt + generated tokens per sequence (meta tokens excluded)
  int num_meta_tokens = 0;
  int eos_token_id = -1;
  int bos_token_id = -1;
  size_t weight_bytes = 0;           // resident weights
  size_t streamed_weight_bytes = 0;  // weights read by every step (all but the lookup table)
  size_t state_bytes_per_slot = 0;
  size_t shared_prefix_bytes = 0;  // meta-token K/V shared by all slots
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual absl::StatusOr<StepResult> Step(const BatchPlan& plan) = 0;
  // Tokens fed so far into `slot` (0 after a reset). REQUIRES: 0 <= slot < max_slots.
  virtual int SlotLength(int slot) const = 0;
  virtual const EngineInfo& info() const = 0;
};

}  // namespace hymba::engine
