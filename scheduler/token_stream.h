// TokenStream: the hand-off of one request's events from the engine loop (producer) to the
// thread serving the client (consumer). Bounded: when the consumer falls behind, new tokens are
// merged into the last undelivered item instead of queueing more, so the engine loop never
// blocks and memory stays bounded by `capacity` items.
//
// Ownership: shared by the engine loop and the consumer (std::shared_ptr): either may outlive
// the other.
// Thread safety: thread-safe.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "scheduler/request.h"

namespace hymba::scheduler {

// What the consumer reads: new tokens and, on the last item, how the request ended.
struct StreamItem {
  std::vector<int32_t> tokens;
  std::vector<SampledToken> logprobs;  // per token, when asked for
  bool finished = false;
  FinishReason reason = FinishReason::kLength;
  absl::Status status;  // not OK when the request failed (admission or engine error)
  int prompt_tokens = 0;
  int completion_tokens = 0;
  // Engine-side timing from the request's arrival, in seconds; -1 when this item carries none.
  double queue_seconds = -1;        // until admission (with the first token and the last item)
  double first_token_seconds = -1;  // until the first token (with the item that carries it)
};

class TokenStream {
 public:
  explicit TokenStream(RequestId id, size_t capacity = 64) : id_(id), capacity_(capacity) {}
  RequestId id() const { return id_; }

  // Producer side. After a finished item nothing more is pushed.
  void Push(const Event& event);
  void Fail(const absl::Status& status);

  // Consumer side: waits until an item is ready or `timeout` passes (false: nothing yet). Once
  // the finished item has been returned, returns false immediately.
  bool Next(StreamItem* item, absl::Duration timeout = absl::InfiniteDuration());
  bool done() const;

  // Called on the producer's thread after every push: an asynchronous
  // consumer (a gRPC reactor) uses it to pull with Next(..., absl::ZeroDuration()). It must be
  // quick and must call neither Push nor SetListener. Pass nullptr to detach; once that returns the
  // old listener is not running and will not be called again.
  void SetListener(std::function<void()> listener);

 private:
  void PushItem(StreamItem item) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify();

  const RequestId id_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<StreamItem> items_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;     // a finished item was pushed
  bool delivered_ ABSL_GUARDED_BY(mu_) = false;  // ... and read
  absl::Mutex listener_mu_;                      // held while the listener runs
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace hymba::scheduler
