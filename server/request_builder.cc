#include "server/request_builder.h"

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "scheduler/stop_string_matcher.h"

namespace hymba::server {

RequestBuilder::RequestBuilder(const engine::TextCodec& codec, const engine::EngineInfo& info,
                               size_t max_request_bytes)
    : codec_(codec), info_(info), max_request_bytes_(max_request_bytes) {}

absl::Status RequestBuilder::CheckSize(const google::protobuf::Message& proto) const {
  const size_t bytes = proto.ByteSizeLong();
  if (bytes > max_request_bytes_)
    return absl::InvalidArgumentError(absl::StrCat(
        "request: ", bytes, " bytes exceeds the limit of ", max_request_bytes_, " bytes"));
  return absl::OkStatus();
}

absl::StatusOr<BuiltRequest> RequestBuilder::Build(const v1::GenerateRequest& proto,
                                                   scheduler::RequestId id, uint64_t seed) const {
  HY_RETURN_IF_ERROR(CheckSize(proto));
  BuiltRequest out;
  scheduler::Request& r = out.request;
  switch (proto.input_case()) {
    case v1::GenerateRequest::kPrompt: {
      if (proto.prompt().empty()) return absl::InvalidArgumentError("prompt: empty");
      HY_ASSIGN_OR_RETURN(std::vector<int> ids, codec_.Encode(proto.prompt(), true));
      r.prompt.assign(ids.begin(), ids.end());
      out.from_text = true;
      break;
    }
    case v1::GenerateRequest::kPromptTokens: {
      const auto& ids = proto.prompt_tokens().ids();
      if (ids.empty()) return absl::InvalidArgumentError("prompt_tokens.ids: empty");
      for (int i = 0; i < ids.size(); ++i)
        if (ids[i] < 0 || ids[i] >= info_.vocab_size)
          return absl::InvalidArgumentError(absl::StrCat("prompt_tokens.ids[", i, "] = ", ids[i],
                                                         ": outside the vocabulary [0, ",
                                                         info_.vocab_size, ")"));
      r.prompt.assign(ids.begin(), ids.end());
      break;
    }
    default:
      return absl::InvalidArgumentError("prompt: give prompt or prompt_tokens");
  }
  if (r.prompt.empty()) return absl::InvalidArgumentError("prompt: encodes to no tokens");
  HY_RETURN_IF_ERROR(BuildOptions(proto, id, seed, &out));
  return out;
}

absl::StatusOr<BuiltRequest> RequestBuilder::BuildChat(const v1::ChatRequest& proto,
                                                       scheduler::RequestId id,
                                                       uint64_t seed) const {
  HY_RETURN_IF_ERROR(CheckSize(proto));
  if (proto.messages().empty()) return absl::InvalidArgumentError("messages: empty");
  std::vector<engine::ChatMessage> messages;
  messages.reserve(proto.messages_size());
  for (int i = 0; i < proto.messages_size(); ++i) {
    const v1::ChatMessage& m = proto.messages(i);
    if (m.role().empty())
      return absl::InvalidArgumentError(absl::StrCat("messages[", i, "].role: empty"));
    messages.push_back({m.role(), m.content()});
  }
  if (proto.options().input_case() != v1::GenerateRequest::INPUT_NOT_SET)
    return absl::InvalidArgumentError(
        "options.prompt: must be unset for Chat (the messages are the prompt)");
  const bool add_generation_prompt =
      !proto.has_add_generation_prompt() || proto.add_generation_prompt();
  auto text = codec_.RenderChat(messages, add_generation_prompt);
  if (!text.ok()) {
    if (text.status().code() != absl::StatusCode::kInvalidArgument) return text.status();
    return absl::InvalidArgumentError(absl::StrCat("messages: ", text.status().message()));
  }
  HY_ASSIGN_OR_RETURN(std::vector<int> ids, codec_.Encode(*text, /*add_special=*/false));
  if (ids.empty()) return absl::InvalidArgumentError("messages: render to no tokens");
  BuiltRequest out;
  out.request.prompt.assign(ids.begin(), ids.end());
  absl::Status status = BuildOptions(proto.options(), id, seed, &out);
  if (!status.ok()) return absl::Status(status.code(), absl::StrCat("options.", status.message()));
  return out;
}

absl::Status RequestBuilder::BuildOptions(const v1::GenerateRequest& proto, scheduler::RequestId id,
                                          uint64_t seed, BuiltRequest* built) const {
  BuiltRequest& out = *built;
  scheduler::Request& r = out.request;
  r.id = id;
  r.priority = proto.priority();
  r.stop.max_tokens = proto.max_tokens();
  if (proto.max_tokens() <= 0)
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens = ", proto.max_tokens(), ": must be > 0"));
  if (r.prompt.size() + static_cast<size_t>(proto.max_tokens()) >
      static_cast<size_t>(info_.max_seq_len))
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens = ", proto.max_tokens(), ": prompt (", r.prompt.size(),
                     " tokens) + max_tokens exceeds the context limit ", info_.max_seq_len));
  r.stop.ignore_eos = proto.ignore_eos();
  for (int i = 0; i < proto.stop_token_ids_size(); ++i) {
    const int id_i = proto.stop_token_ids(i);
    if (id_i < 0 || id_i >= info_.vocab_size)
      return absl::InvalidArgumentError(
          absl::StrCat("stop_token_ids[", i, "] = ", id_i, ": outside the vocabulary"));
    r.stop.stop_token_ids.push_back(id_i);
  }
  out.stop_strings.assign(proto.stop().begin(), proto.stop().end());
  HY_RETURN_IF_ERROR(scheduler::StopStringMatcher::Validate(out.stop_strings));

  const v1::SamplingParams& s = proto.sampling();
  scheduler::SamplingParams& p = r.sampling;
  p.temperature = s.temperature();
  p.top_k = s.top_k();
  p.top_p = s.top_p() == 0.0f ? 1.0f : s.top_p();
  p.min_p = s.min_p();
  p.repetition_penalty = s.repetition_penalty() == 0.0f ? 1.0f : s.repetition_penalty();
  p.presence_penalty = s.presence_penalty();
  p.frequency_penalty = s.frequency_penalty();
  for (const auto& [token, bias] : s.logit_bias()) p.logit_bias.emplace_back(token, bias);
  p.logprobs = proto.logprobs();
  p.top_logprobs = proto.top_logprobs();
  p.seed = s.has_seed() ? s.seed() : seed;
  absl::Status valid = scheduler::ValidateSamplingParams(p, info_.vocab_size);
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat("sampling.", valid.message()));
  return absl::OkStatus();
}

}  // namespace hymba::server
