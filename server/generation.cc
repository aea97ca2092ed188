#include "server/generation.h"

namespace hymba::server {
namespace {

v1::FinishReason ToProto(scheduler::FinishReason r) {
  switch (r) {
    case scheduler::FinishReason::kLength:
      return v1::LENGTH;
    case scheduler::FinishReason::kEosToken:
      return v1::EOS_TOKEN;
    case scheduler::FinishReason::kStopSequence:
      return v1::STOP_SEQUENCE;
    case scheduler::FinishReason::kStopToken:
      return v1::STOP_TOKEN;
    case scheduler::FinishReason::kCancelled:
      return v1::CANCELLED;
    case scheduler::FinishReason::kDeadline:
      return v1::DEADLINE;
    case scheduler::FinishReason::kContextLimit:
      return v1::CONTEXT_LIMIT;
    case scheduler::FinishReason::kError:
      return v1::ERROR;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

}  // namespace

Generation::Generation(scheduler::EngineLoop* loop, const engine::TextCodec& codec,
                       std::shared_ptr<scheduler::TokenStream> stream, bool from_text,
                       std::vector<std::string> stops, uint64_t seed, absl::Time start)
    : loop_(loop),
      stream_(std::move(stream)),
      output_(codec, /*strip_leading_space=*/!from_text, std::move(stops)),
      seed_(seed),
      start_(start) {}

bool Generation::Pull(v1::GenerateResponse* out, absl::Status* status) {
  scheduler::StreamItem item;
  while (stream_->Next(&item, absl::ZeroDuration())) {
    if (item.first_token_seconds >= 0 && first_token_seconds_ < 0)
      first_token_seconds_ = item.first_token_seconds;
    if (item.queue_seconds >= 0) queue_seconds_ = item.queue_seconds;
    if (!output_.stopped()) {
      out->mutable_text()->append(output_.Push(item.tokens));
      // After a stop string only the tokens up to the one completing it are reported.
      const int keep = output_.stopped() ? output_.accepted_tokens() - generated_
                                         : static_cast<int>(item.tokens.size());
      for (int i = 0; i < keep; ++i) {
        out->add_token_ids(item.tokens[i]);
        if (i < static_cast<int>(item.logprobs.size())) {
          const scheduler::SampledToken& s = item.logprobs[i];
          v1::TokenLogprob* lp = out->add_logprobs();
          lp->set_token(s.token);
          lp->set_logprob(s.logprob);
          for (const auto& [t, l] : s.top) {
            auto* alt = lp->add_top();
            alt->set_token(t);
            alt->set_logprob(l);
          }
        }
      }
      generated_ += keep;
      if (output_.stopped()) loop_->Cancel(id());
    }
    if (item.finished) {
      *status = item.status;
      if (status->ok() && item.reason == scheduler::FinishReason::kDeadline)
        *status = absl::DeadlineExceededError("the request's deadline passed");
      Finish(item, out);
      return true;
    }
  }
  return false;
}

void Generation::Finish(const scheduler::StreamItem& item, v1::GenerateResponse* out) {
  if (output_.stopped()) {
    out->set_finish_reason(v1::STOP_SEQUENCE);
    out->set_stop_sequence(output_.stop_string());
    finish_reason_ = scheduler::FinishReasonName(scheduler::FinishReason::kStopSequence);
  } else {
    out->mutable_text()->append(output_.Finish());
    out->set_finish_reason(ToProto(item.reason));
    finish_reason_ = scheduler::FinishReasonName(item.reason);
  }
  prompt_tokens_ = item.prompt_tokens;
  out->mutable_usage()->set_prompt_tokens(item.prompt_tokens);
  out->mutable_usage()->set_completion_tokens(generated_);
  v1::Timing* timing = out->mutable_timing();
  timing->set_total_seconds(absl::ToDoubleSeconds(absl::Now() - start_));
  if (queue_seconds_ >= 0) timing->set_queue_seconds(queue_seconds_);
  if (first_token_seconds_ >= 0) timing->set_time_to_first_token_seconds(first_token_seconds_);
  out->set_seed(seed_);
}

}  // namespace hymba::server
