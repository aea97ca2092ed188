// hymba client: a completion or a chat turn from a running hymba-server, streamed to the terminal.
//   --prompt TEXT | --tokens IDS     what to complete (with --chat: the user's message)
//   --chat [--system TEXT]           one chat turn through the model's chat template
//   --unary                          one Complete call instead of a stream
//   --json                           print {"tokens":[...],"text":"..."} as `hymba generate --json`
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "hymba/v1/hymba.grpc.pb.h"
#include "tools/hymba/commands.h"
#include "tools/hymba/json_output.h"

namespace hymba::tools {
namespace {

absl::Status CallError(const std::string& address, const grpc::Status& status) {
  return absl::UnavailableError(absl::StrCat(address, ": ", status.error_message(), " (code ",
                                             static_cast<int>(status.error_code()), ")"));
}

// The request's prompt and generation settings from the command line.
absl::StatusOr<v1::GenerateRequest> RequestFromArgs(CliArgs& args, bool chat) {
  v1::GenerateRequest request;
  if (args.Has("prompt") == args.Has("tokens"))
    return absl::InvalidArgumentError("give exactly one of --prompt and --tokens");
  if (args.Has("tokens")) {
    if (chat) return absl::InvalidArgumentError("--tokens: --chat takes --prompt text");
    HY_ASSIGN_OR_RETURN(std::vector<int> ids, args.IntList("tokens"));
    for (int id : ids) request.mutable_prompt_tokens()->add_ids(id);
  } else {
    HY_ASSIGN_OR_RETURN(std::string prompt, args.String("prompt"));
    if (!chat) request.set_prompt(prompt);
  }
  HY_ASSIGN_OR_RETURN(int max_tokens, args.IntOr("max-tokens", 64));
  HY_ASSIGN_OR_RETURN(double temperature, args.DoubleOr("temperature", 0.0));
  HY_ASSIGN_OR_RETURN(int top_k, args.IntOr("top-k", 0));
  HY_ASSIGN_OR_RETURN(double top_p, args.DoubleOr("top-p", 1.0));
  HY_ASSIGN_OR_RETURN(double min_p, args.DoubleOr("min-p", 0.0));
  HY_ASSIGN_OR_RETURN(double repetition, args.DoubleOr("repetition-penalty", 1.0));
  request.set_max_tokens(max_tokens);
  v1::SamplingParams* s = request.mutable_sampling();
  s->set_temperature(static_cast<float>(temperature));
  s->set_top_k(top_k);
  s->set_top_p(static_cast<float>(top_p));
  s->set_min_p(static_cast<float>(min_p));
  s->set_repetition_penalty(static_cast<float>(repetition));
  if (args.Has("seed")) {
    HY_ASSIGN_OR_RETURN(int seed, args.IntOr("seed", 0));
    s->set_seed(static_cast<uint64_t>(seed));
  }
  if (args.Has("stop")) request.add_stop(args.StringOr("stop", ""));
  request.set_ignore_eos(args.Flag("ignore-eos"));
  request.set_request_id(args.StringOr("request-id", ""));
  return request;
}

}  // namespace

absl::Status RunClient(CliArgs& args) {
  const std::string address = args.StringOr("address", "localhost:50051");
  const bool chat = args.Flag("chat");
  const bool unary = args.Flag("unary");
  const bool json = args.Flag("json");
  HY_ASSIGN_OR_RETURN(v1::GenerateRequest request, RequestFromArgs(args, chat));
  const std::string user = chat ? args.StringOr("prompt", "") : "";
  const std::string system = args.StringOr("system", "");
  HY_ASSIGN_OR_RETURN(int timeout_s, args.IntOr("timeout-s", 600));
  HY_RETURN_IF_ERROR(args.Finish());
  if (chat && unary) return absl::InvalidArgumentError("--unary: Chat is a streaming call");

  auto stub = v1::Hymba::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
  std::vector<int> tokens;
  std::string text;
  v1::GenerateResponse last;
  auto take = [&](const v1::GenerateResponse& r) {
    tokens.insert(tokens.end(), r.token_ids().begin(), r.token_ids().end());
    text += r.text();
    if (!json) {
      std::fwrite(r.text().data(), 1, r.text().size(), stdout);
      std::fflush(stdout);
    }
    last = r;
  };
  grpc::Status status;
  if (unary) {
    v1::GenerateResponse response;
    status = stub->Complete(&context, request, &response);
    if (status.ok()) take(response);
  } else {
    std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader;
    v1::ChatRequest chat_request;
    if (chat) {
      if (!system.empty()) {
        auto* m = chat_request.add_messages();
        m->set_role("system");
        m->set_content(system);
      }
      auto* m = chat_request.add_messages();
      m->set_role("user");
      m->set_content(user);
      *chat_request.mutable_options() = request;
      reader = stub->Chat(&context, chat_request);
    } else {
      reader = stub->Generate(&context, request);
    }
    v1::GenerateResponse response;
    while (reader->Read(&response)) take(response);
    status = reader->Finish();
  }
  if (json) {
    const std::string line = TokensTextJson(tokens, text);
    std::fwrite(line.data(), 1, line.size(), stdout);
  } else {
    std::fputc('\n', stdout);
  }
  if (!status.ok()) return CallError(address, status);
  std::fprintf(stderr, "[%s, %d prompt + %d completion tokens, %.3f s to first token]\n",
               v1::FinishReason_Name(last.finish_reason()).c_str(), last.usage().prompt_tokens(),
               last.usage().completion_tokens(), last.timing().time_to_first_token_seconds());
  return absl::OkStatus();
}

}  // namespace hymba::tools
