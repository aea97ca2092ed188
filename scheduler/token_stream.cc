#include "scheduler/token_stream.h"

namespace hymba::scheduler {

void TokenStream::PushItem(StreamItem item) {
  if (closed_) return;
  closed_ = item.finished;
  if (items_.size() >= capacity_ && !items_.empty()) {
    // Merge into the newest pending item: the consumer sees the same tokens, in fewer pieces.
    StreamItem& last = items_.back();
    last.tokens.insert(last.tokens.end(), item.tokens.begin(), item.tokens.end());
    last.logprobs.insert(last.logprobs.end(), item.logprobs.begin(), item.logprobs.end());
    last.finished = item.finished;
    last.reason = item.reason;
    last.status = item.status;
    last.prompt_tokens = item.prompt_tokens;
    last.completion_tokens = item.completion_tokens;
    if (item.queue_seconds >= 0) last.queue_seconds = item.queue_seconds;
    if (last.first_token_seconds < 0) last.first_token_seconds = item.first_token_seconds;
    return;
  }
  items_.push_back(std::move(item));
}

void TokenStream::Push(const Event& event) {
  StreamItem item;
  item.tokens = event.tokens;
  item.logprobs = event.logprobs;
  item.finished = event.finished;
  item.reason = event.reason;
  if (event.finished && event.reason == FinishReason::kError)
    item.status = absl::InternalError(event.error);
  item.prompt_tokens = event.prompt_tokens;
  item.completion_tokens = event.completion_tokens;
  if (event.first_token || event.finished) item.queue_seconds = event.queue_seconds;
  if (event.first_token) item.first_token_seconds = event.token_seconds;
  {
    absl::MutexLock lock(&mu_);
    PushItem(std::move(item));
  }
  Notify();
}

void TokenStream::Fail(const absl::Status& status) {
  StreamItem item;
  item.finished = true;
  item.reason = FinishReason::kError;
  item.status = status;
  {
    absl::MutexLock lock(&mu_);
    PushItem(std::move(item));
  }
  Notify();
}

void TokenStream::SetListener(std::function<void()> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void TokenStream::Notify() {
  absl::MutexLock lock(&listener_mu_);
  if (listener_) listener_();
}

bool TokenStream::Next(StreamItem* item, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (delivered_) return false;
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !items_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return false;
  *item = std::move(items_.front());
  items_.pop_front();
  if (item->finished) delivered_ = true;
  return true;
}

bool TokenStream::done() const {
  absl::MutexLock lock(&mu_);
  return delivered_;
}

}  // namespace hymba::scheduler
