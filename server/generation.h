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
  Generation(scheduler::EngineLoop* loop, const engine::TextCodec& codec,
             std::shared_ptr<scheduler::TokenStream> stream, bool from_text,
             std::vector<std::string> stops, uint64_t seed);

  // Moves what is ready into `out` (appending to it); true once the request has ended, and then
  // `status` says how (OK, or the error to end the call with).
  bool Pull(v1::GenerateResponse* out, absl::Status* status);
  scheduler::RequestId id() const { return stream_->id(); }
  scheduler::TokenStream& stream() { return *stream_; }

 private:
  void Finish(const scheduler::StreamItem& item, v1::GenerateResponse* out);

  scheduler::EngineLoop* loop_;
  std::shared_ptr<scheduler::TokenStream> stream_;
  scheduler::TextOutput output_;
  uint64_t seed_;
  int generated_ = 0;
  absl::Time start_ = absl::Now();
  absl::Time first_token_ = absl::InfiniteFuture();
};

}  // namespace hymba::server
