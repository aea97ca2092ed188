// Generation: one request's output as hymba.v1 responses: pulls the request's TokenStream,
// detokenizes and applies stop strings (TextOutput), and assembles the final response's finish
// reason, usage and timing. Shared by the streaming Generate and the unary Complete calls.
//
// Ownership: borrows the engine loop and codec (both outlive every call).
// Thread safety: not thread-safe; its reactor serializes calls.
#pragma once

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "hymba/v1/hymba.pb.h"
#include "scheduler/engine_loop.h"
#include "scheduler/text_output.h"

namespace hymba::server {

class Generation {
 public:
  // `start`: when the call arrived (the origin of the reported timing).
  Generation(scheduler::EngineLoop* loop, const engine::TextCodec& codec,
             std::shared_ptr<scheduler::TokenStream> stream, bool from_text,
             std::vector<std::string> stops, uint64_t seed, absl::Time start);

  // Moves what is ready into `out` (appending to it); true once the request has ended, and then
  // `status` says how (OK, or the error to end the call with).
  bool Pull(v1::GenerateResponse* out, absl::Status* status);
  scheduler::RequestId id() const { return stream_->id(); }
  scheduler::TokenStream& stream() { return *stream_; }

  // After Pull returned true: how the request ended, for logs and metrics.
  const char* finish_reason() const { return finish_reason_; }
  int prompt_tokens() const { return prompt_tokens_; }
  int completion_tokens() const { return generated_; }
  double first_token_seconds() const { return first_token_seconds_; }  // -1: no token

 private:
  void Finish(const scheduler::StreamItem& item, v1::GenerateResponse* out);

  scheduler::EngineLoop* loop_;
  std::shared_ptr<scheduler::TokenStream> stream_;
  scheduler::TextOutput output_;
  uint64_t seed_;
  int generated_ = 0;
  int prompt_tokens_ = 0;
  absl::Time start_;
  double first_token_seconds_ = -1;
  double queue_seconds_ = -1;
  const char* finish_reason_ = "cancelled";  // until the request reports its end
};

}  // namespace hymba::server
