// Request: one generation request as the scheduler sees it (already tokenized and validated for
// types; the scheduler checks it against capacity), and the events the scheduler reports back.
//
// Thread safety: plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "scheduler/sampler.h"

namespace hymba::scheduler {

using RequestId = uint64_t;

// Why a request ended (DESIGN.md "Server": one enum for every layer).
enum class FinishReason {
  kLength,        // max_tokens generated
  kEosToken,      // the model's EOS (unless ignore_eos)
  kStopSequence,  // a stop string matched (text level)
  kStopToken,     // one of stop_token_ids
  kCancelled,     // Abort() or the client went away
  kDeadline,      // the deadline passed
  kContextLimit,  // the slot's max_seq_len is full
  kError,         // the engine failed a step this request was in
};
const char* FinishReasonName(FinishReason reason);

struct StopConditions {
  int max_tokens = 16;  // > 0
  bool ignore_eos = false;
  std::vector<int32_t> stop_token_ids;
};

struct Request {
  RequestId id = 0;
  std::vector<int32_t> prompt;  // non-empty token ids
  SamplingParams sampling;
  StopConditions stop;
  int priority = 0;  // higher runs first; FCFS within a priority
  absl::Time deadline = absl::InfiniteFuture();
  // When the request reached the server: the origin of queue time and latencies. AddRequest
  // sets it to the current time when left unset.
  absl::Time arrival = absl::InfinitePast();
};

// What Update reports for one request after a step.
struct Event {
  RequestId id = 0;
  std::vector<int32_t> tokens;         // newly generated tokens (0 or 1 per step)
  std::vector<SampledToken> logprobs;  // per token, when the request asked for logprobs
  bool finished = false;
  FinishReason reason = FinishReason::kLength;
  std::string error;  // with kError: the engine's message
  int prompt_tokens = 0;
  int completion_tokens = 0;
  // Timing, measured on the engine-loop thread when the event is made:
  bool first_token = false;  // `tokens` holds the request's first generated token
  double token_seconds = 0;  // with tokens: since the previous token, or since arrival for
                             // the first one (time to first token)
  double queue_seconds = 0;  // arrival -> admission into a slot (to now if never admitted);
                             // set on first-token and finished events
  double total_seconds = 0;  // arrival -> now; set on finished events
};

}  // namespace hymba::scheduler
