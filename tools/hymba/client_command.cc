// hymba client: streams a completion from a running hymba-server to the terminal.
#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "hymba/v1/hymba.grpc.pb.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {

absl::Status RunClient(CliArgs& args) {
  const std::string address = args.StringOr("address", "localhost:50051");
  HY_ASSIGN_OR_RETURN(std::string prompt, args.String("prompt"));
  HY_ASSIGN_OR_RETURN(int max_tokens, args.IntOr("max-tokens", 64));
  HY_ASSIGN_OR_RETURN(double temperature, args.DoubleOr("temperature", 0.0));
  HY_ASSIGN_OR_RETURN(int timeout_s, args.IntOr("timeout-s", 600));
  HY_RETURN_IF_ERROR(args.Finish());
  auto stub = v1::Hymba::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::GenerateRequest request;
  request.set_prompt(prompt);
  request.set_max_tokens(max_tokens);
  request.mutable_sampling()->set_temperature(static_cast<float>(temperature));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_s));
  auto reader = stub->Generate(&context, request);
  v1::GenerateResponse response, last;
  while (reader->Read(&response)) {
    std::fwrite(response.text().data(), 1, response.text().size(), stdout);
    std::fflush(stdout);
    last = response;
  }
  const grpc::Status status = reader->Finish();
  std::fputc('\n', stdout);
  if (!status.ok())
    return absl::UnavailableError(absl::StrCat(address, ": ", status.error_message(), " (code ",
                                               static_cast<int>(status.error_code()), ")"));
  std::fprintf(stderr, "[%s, %d prompt + %d completion tokens, %.3f s to first token]\n",
               v1::FinishReason_Name(last.finish_reason()).c_str(), last.usage().prompt_tokens(),
               last.usage().completion_tokens(), last.timing().time_to_first_token_seconds());
  return absl::OkStatus();
}

}  // namespace hymba::tools
