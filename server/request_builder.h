// Turns a hymba.v1.GenerateRequest into a scheduler Request plus its stop strings, checking every
// field against the model: a bad field is InvalidArgument naming it (e.g. "max_tokens = 0: must
// be > 0", "prompt_tokens.ids[2] = 99999: outside the vocabulary [0, 32001)").
//
// Ownership: borrows the codec.
// Thread safety: thread-safe (runs on gRPC threads).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/api/engine.h"
#include "engine/api/text_codec.h"
#include "hymba/v1/hymba.pb.h"
#include "scheduler/request.h"

namespace hymba::server {

struct BuiltRequest {
  scheduler::Request request;
  std::vector<std::string> stop_strings;
  bool from_text = false;  // the prompt was text (the output then continues it)
};

class RequestBuilder {
 public:
  RequestBuilder(const engine::TextCodec& codec, const engine::EngineInfo& info,
                 size_t max_request_bytes = kDefaultMaxRequestBytes);

  static constexpr size_t kDefaultMaxRequestBytes = 1 << 20;

  // `id` is the scheduler id the server assigned; `seed` is used when the request has none.
  // A request larger than max_request_bytes is InvalidArgument naming "request".
  absl::StatusOr<BuiltRequest> Build(const v1::GenerateRequest& proto, scheduler::RequestId id,
                                     uint64_t seed) const;
  // The conversation rendered with the chat template and tokenized without added BOS/EOS; errors
  // in the generation settings name the field under "options.". FailedPrecondition when the
  // model has no usable chat template.
  absl::StatusOr<BuiltRequest> BuildChat(const v1::ChatRequest& proto, scheduler::RequestId id,
                                         uint64_t seed) const;

 private:
  absl::Status CheckSize(const google::protobuf::Message& proto) const;
  // Everything but the prompt: limits, stop conditions and sampling.
  absl::Status BuildOptions(const v1::GenerateRequest& proto, scheduler::RequestId id,
                            uint64_t seed, BuiltRequest* out) const;

  const engine::TextCodec& codec_;
  engine::EngineInfo info_;
  size_t max_request_bytes_;
};

}  // namespace hymba::server
