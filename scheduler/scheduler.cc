#include "scheduler/scheduler.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"

namespace hymba::scheduler {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kEosToken:
      return "eos";
    case FinishReason::kStopSequence:
      return "stop";
    case FinishReason::kStopToken:
      return "stop_token";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kDeadline:
      return "deadline";
    case FinishReason::kContextLimit:
      return "context_limit";
    case FinishReason::kError:
      return "error";
  }
  return "unknown";
}

struct Scheduler::Sequence {
  Request request;
  uint64_t arrival = 0;
  int slot = -1;
  absl::Time admitted = absl::InfiniteFuture();
  absl::Time last_token = absl::InfinitePast();
  int computed = 0;                // tokens fed to the engine: prompt, then generated
  std::vector<int32_t> generated;  // sampled so far

  int prompt_len() const { return static_cast<int>(request.prompt.size()); }
  bool prefilling() const { return computed < prompt_len(); }
  int32_t token(int i) const {
    return i < prompt_len() ? request.prompt[i] : generated[i - prompt_len()];
  }
};

Scheduler::Scheduler(const SchedulerOptions& options)
    : options_(options), slots_(options.max_slots) {
  HY_CHECK(ValidateOptions(options).ok());
}
Scheduler::~Scheduler() = default;

absl::Status Scheduler::ValidateOptions(const SchedulerOptions& o) {
  if (o.max_slots <= 0) return absl::InvalidArgumentError("max_slots: must be > 0");
  if (o.max_seq_len <= 0) return absl::InvalidArgumentError("max_seq_len: must be > 0");
  if (o.max_batch_tokens < o.max_slots)
    return absl::InvalidArgumentError(absl::StrCat("max_batch_tokens = ", o.max_batch_tokens,
                                                   ": must be >= max_slots (", o.max_slots, ")"));
  if (o.prefill_chunk <= 0) return absl::InvalidArgumentError("prefill_chunk: must be > 0");
  if (o.max_queue < 0) return absl::InvalidArgumentError("max_queue: must be >= 0");
  if (o.vocab_size <= 0) return absl::InvalidArgumentError("vocab_size: must be > 0");
  return absl::OkStatus();
}

absl::Status Scheduler::AddRequest(Request request) {
  if (request.prompt.empty()) return absl::InvalidArgumentError("prompt: empty");
  for (int32_t id : request.prompt)
    if (id < 0 || id >= options_.vocab_size)
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt: token id ", id, " outside the vocabulary [0, ", options_.vocab_size, ")"));
  if (request.stop.max_tokens <= 0)
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens = ", request.stop.max_tokens, ": must be > 0"));
  if (request.prompt.size() + static_cast<size_t>(request.stop.max_tokens) >
      static_cast<size_t>(options_.max_seq_len))
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens = ", request.stop.max_tokens, ": prompt (", request.prompt.size(),
                     " tokens) + max_tokens exceeds the context limit ", options_.max_seq_len));
  HY_RETURN_IF_ERROR(ValidateSamplingParams(request.sampling, options_.vocab_size));
  if (static_cast<int>(waiting_.size()) >= options_.max_queue)
    return absl::ResourceExhaustedError(
        absl::StrCat("the waiting queue is full (", options_.max_queue, " requests)"));
  auto seq = std::make_unique<Sequence>();
  if (request.arrival == absl::InfinitePast()) request.arrival = absl::Now();
  seq->request = std::move(request);
  seq->arrival = arrivals_++;
  // Priority (higher first), then arrival: insert after every request at >= this priority.
  auto pos = std::find_if(waiting_.begin(), waiting_.end(), [&](const auto& w) {
    return w->request.priority < seq->request.priority;
  });
  waiting_.insert(pos, std::move(seq));
  return absl::OkStatus();
}

void Scheduler::Abort(RequestId id) { aborted_[id] = true; }

void Scheduler::FinishEarly(std::unique_ptr<Sequence> seq, FinishReason reason,
                            ScheduledStep* step) {
  if (seq->slot >= 0) slots_.Release(seq->slot);
  Event e;
  e.id = seq->request.id;
  e.finished = true;
  e.reason = reason;
  e.prompt_tokens = seq->prompt_len();
  e.completion_tokens = static_cast<int>(seq->generated.size());
  SetFinishTiming(*seq, absl::Now(), &e);
  aborted_.erase(e.id);
  step->finished_early.push_back(std::move(e));
}

void Scheduler::SetFinishTiming(const Sequence& seq, absl::Time now, Event* e) {
  const absl::Time admitted = std::min(seq.admitted, now);
  e->queue_seconds = absl::ToDoubleSeconds(admitted - seq.request.arrival);
  e->total_seconds = absl::ToDoubleSeconds(now - seq.request.arrival);
}

void Scheduler::DropExpired(absl::Time now, ScheduledStep* step) {
  auto reason_for = [&](const Sequence& s) -> std::optional<FinishReason> {
    if (aborted_.count(s.request.id)) return FinishReason::kCancelled;
    if (now >= s.request.deadline) return FinishReason::kDeadline;
    return std::nullopt;
  };
  for (auto it = running_.begin(); it != running_.end();) {
    if (auto r = reason_for(**it)) {
      FinishEarly(std::move(*it), *r, step);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (auto r = reason_for(**it)) {
      FinishEarly(std::move(*it), *r, step);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  aborted_.clear();  // ids that matched nothing: already finished or never known
}

void Scheduler::AddEntry(Sequence& seq, int count, ScheduledStep* step) {
  engine::BatchEntry e;
  e.slot = seq.slot;
  e.reset_slot = seq.computed == 0;
  e.start_pos = seq.computed;
  e.tokens = seq.computed < seq.prompt_len()
                 ? absl::Span<const int32_t>(seq.request.prompt.data() + seq.computed, count)
                 : absl::Span<const int32_t>(seq.generated.data() + seq.computed - seq.prompt_len(),
                                             count);
  // Logits only when this entry ends the prompt or decodes.
  e.logits = seq.computed + count >= seq.prompt_len() ? engine::LogitsMode::kLast
                                                      : engine::LogitsMode::kNone;
  step->plan.entries.push_back(e);
  step->entry_ids.push_back(seq.request.id);
  if (seq.computed < seq.prompt_len())
    stats_.last_step_prompt_tokens += count;
  else
    stats_.last_step_decode_tokens += count;
}

ScheduledStep Scheduler::Schedule(absl::Time now) {
  ScheduledStep step;
  stats_.last_step_prompt_tokens = stats_.last_step_decode_tokens = 0;
  DropExpired(now, &step);
  int budget = options_.max_batch_tokens;
  // 1. Every running decode: one token each.
  for (auto& seq : running_) {
    if (seq->prefilling()) continue;
    AddEntry(*seq, 1, &step);
    --budget;
  }
  // 2. Prompt chunks of admitted sequences, in admission order.
  for (auto& seq : running_) {
    if (!seq->prefilling() || budget == 0) continue;
    const int n = std::min({options_.prefill_chunk, seq->prompt_len() - seq->computed, budget});
    AddEntry(*seq, n, &step);
    budget -= n;
  }
  // 3. Admit waiting requests while a slot and budget remain.
  while (!waiting_.empty() && budget > 0 && slots_.num_free() > 0) {
    std::unique_ptr<Sequence> seq = std::move(waiting_.front());
    waiting_.pop_front();
    seq->slot = *slots_.Acquire();
    seq->admitted = now;
    const int n = std::min({options_.prefill_chunk, seq->prompt_len(), budget});
    AddEntry(*seq, n, &step);
    budget -= n;
    running_.push_back(std::move(seq));
  }
  stats_.last_step_tokens = options_.max_batch_tokens - budget;
  stats_.last_step_sequences = static_cast<int>(step.plan.entries.size());
  return step;
}

bool Scheduler::Sample(Sequence& seq, const float* logits, int vocab, absl::Time now,
                       Event* event) {
  const SamplingParams& sp = seq.request.sampling;
  SampledToken sampled = scheduler::Sample(logits, vocab, sp, seq.request.prompt, seq.generated);
  const int32_t token = sampled.token;
  seq.generated.push_back(token);
  event->tokens.push_back(token);
  event->first_token = seq.generated.size() == 1;
  if (event->first_token) {
    event->token_seconds = absl::ToDoubleSeconds(now - seq.request.arrival);
    event->queue_seconds = absl::ToDoubleSeconds(std::min(seq.admitted, now) - seq.request.arrival);
  } else {
    event->token_seconds = absl::ToDoubleSeconds(now - seq.last_token);
  }
  seq.last_token = now;
  if (sp.logprobs || sp.top_logprobs > 0) event->logprobs.push_back(std::move(sampled));
  const StopConditions& stop = seq.request.stop;
  std::optional<FinishReason> reason;
  if (token == options_.eos_token_id && !stop.ignore_eos) {
    reason = FinishReason::kEosToken;
  } else if (std::find(stop.stop_token_ids.begin(), stop.stop_token_ids.end(), token) !=
             stop.stop_token_ids.end()) {
    reason = FinishReason::kStopToken;
  } else if (static_cast<int>(seq.generated.size()) >= stop.max_tokens) {
    reason = FinishReason::kLength;
  } else if (seq.computed + 1 > options_.max_seq_len) {
    reason = FinishReason::kContextLimit;
  }
  if (reason) {
    event->finished = true;
    event->reason = *reason;
  }
  return event->finished;
}

std::vector<Event> Scheduler::Update(const ScheduledStep& step,
                                     const absl::StatusOr<engine::StepResult>& result) {
  ++stats_.steps;
  // One clock reading for the step: its tokens all became known when it ended.
  const absl::Time now = absl::Now();
  std::vector<Event> events;
  events.reserve(step.entry_ids.size());
  // Entries follow running_'s order (decodes, then prompt chunks, then admissions), so each
  // search starts where the previous one ended: linear in the batch, not quadratic.
  size_t hint = 0;
  for (size_t i = 0; i < step.entry_ids.size(); ++i) {
    auto is_entry = [&](const auto& s) { return s->request.id == step.entry_ids[i]; };
    hint = std::min(hint, running_.size());
    auto it = std::find_if(running_.begin() + hint, running_.end(), is_entry);
    if (it == running_.end())
      it = std::find_if(running_.begin(), running_.begin() + hint, is_entry);
    HY_CHECK(it != running_.end());
    hint = static_cast<size_t>(it - running_.begin()) + 1;
    Sequence& seq = **it;
    Event e;
    e.id = seq.request.id;
    bool finished = false;
    if (!result.ok()) {
      e.finished = finished = true;
      e.reason = FinishReason::kError;
      e.error = std::string(result.status().message());
    } else {
      seq.computed += static_cast<int>(step.plan.entries[i].tokens.size());
      if (result->row_count[i] > 0)
        finished = Sample(seq, result->last_row(static_cast<int>(i)), result->vocab_size, now, &e);
    }
    e.prompt_tokens = seq.prompt_len();
    e.completion_tokens = static_cast<int>(seq.generated.size());
    if (finished) {
      SetFinishTiming(seq, now, &e);
      slots_.Release(seq.slot);
      running_.erase(it);
      --hint;  // the next sequence moved into the erased place
    }
    if (finished || !e.tokens.empty()) events.push_back(std::move(e));
  }
  return events;
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s = stats_;
  s.running = static_cast<int>(running_.size());
  s.waiting = static_cast<int>(waiting_.size());
  s.free_slots = slots_.num_free();
  return s;
}

}  // namespace hymba::scheduler
