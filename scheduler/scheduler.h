// Scheduler: continuous-batching policy over the engine's fixed slots (DESIGN.md "Scheduler").
// Pure policy: it never calls the engine. The engine loop does
//   step = Schedule(now); result = engine.Step(step.plan); events = Update(step, result);
//
// Each step: requests that were aborted or passed their deadline leave first; then every running
// decode gets one token; then prompt chunks (at most `prefill_chunk` tokens) of admitted requests
// and, while slots are free, of newly admitted ones in priority then arrival order — all within
// `max_batch_tokens`. There is no preemption: a slot is held from admission to finish.
//
// Errors: AddRequest returns ResourceExhausted when the waiting queue is full and InvalidArgument
// naming the field for a request that can never run (empty prompt, token id outside the
// vocabulary, prompt + max_tokens beyond max_seq_len, bad sampling values).
// Thread safety: not thread-safe; the engine loop owns it.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/api/batch_plan.h"
#include "engine/api/step_result.h"
#include "scheduler/request.h"
#include "scheduler/slot_pool.h"

namespace hymba::scheduler {

struct SchedulerOptions {
  int max_slots = 8;
  int max_seq_len = 4096;      // per sequence: prompt + generated
  int max_batch_tokens = 512;  // tokens per step; >= max_slots so decodes always fit
  int prefill_chunk = 256;     // prompt tokens per sequence per step
  int max_queue = 256;         // waiting requests
  int vocab_size = 0;
  int eos_token_id = -1;
};

// Plain counters for the metrics layer.
struct SchedulerStats {
  int running = 0;
  int waiting = 0;
  int free_slots = 0;
  int64_t steps = 0;
  int last_step_tokens = 0;
  int last_step_sequences = 0;
  int last_step_prompt_tokens = 0;  // of last_step_tokens: prompt (prefill) tokens
  int last_step_decode_tokens = 0;  // of last_step_tokens: generated tokens fed back
};

// One step's plan plus what Update needs to map results back.
struct ScheduledStep {
  engine::BatchPlan plan;
  std::vector<RequestId> entry_ids;   // per plan entry
  std::vector<Event> finished_early;  // left without running this step (abort, deadline)
  bool empty() const { return plan.entries.empty(); }
};

class Scheduler {
 public:
  // REQUIRES: options valid (ValidateOptions).
  explicit Scheduler(const SchedulerOptions& options);
  ~Scheduler();
  static absl::Status ValidateOptions(const SchedulerOptions& options);

  absl::Status AddRequest(Request request);
  // The request finishes with kCancelled at the next Schedule; unknown ids are ignored.
  void Abort(RequestId id);
  ScheduledStep Schedule(absl::Time now);
  // REQUIRES: `step` came from the last Schedule and `result` is the engine's answer to it.
  std::vector<Event> Update(const ScheduledStep& step,
                            const absl::StatusOr<engine::StepResult>& result);

  SchedulerStats stats() const;
  bool idle() const { return running_.empty() && waiting_.empty(); }

 private:
  struct Sequence;
  void FinishEarly(std::unique_ptr<Sequence> seq, FinishReason reason, ScheduledStep* step);
  void DropExpired(absl::Time now, ScheduledStep* step);
  static void SetFinishTiming(const Sequence& seq, absl::Time now, Event* e);
  void AddEntry(Sequence& seq, int count, ScheduledStep* step);
  bool Sample(Sequence& seq, const float* logits, int vocab, absl::Time now, Event* event);

  SchedulerOptions options_;
  SlotPool slots_;
  std::vector<std::unique_ptr<Sequence>> running_;  // admitted, in admission order
  std::deque<std::unique_ptr<Sequence>> waiting_;   // priority then arrival order
  std::map<RequestId, bool> aborted_;
  uint64_t arrivals_ = 0;
  SchedulerStats stats_;
};

}  // namespace hymba::scheduler
