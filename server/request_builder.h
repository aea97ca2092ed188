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
  RequestBuilder(const engine::TextCodec& codec, const engine::EngineInfo& info)
      : codec_(codec), info_(info) {}

  // `id` is the scheduler id the server assigned; `seed` is used when the request has none.
  absl::StatusOr<BuiltRequest> Build(const v1::GenerateRequest& proto, scheduler::RequestId id,
                                     uint64_t seed) const;

 private:
  const engine::TextCodec& codec_;
  engine::EngineInfo info_;
};

}  // namespace hymba::server
