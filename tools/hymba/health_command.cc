// hymba health: one grpc.health.v1.Health/Check call; prints the serving status and succeeds
// only on SERVING, so it can serve as a container health check.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {

absl::Status RunHealth(CliArgs& args) {
  const std::string address = args.StringOr("address", "localhost:50051");
  const std::string service = args.StringOr("service", "");
  HY_ASSIGN_OR_RETURN(double timeout_s, args.DoubleOr("timeout-s", 5.0));
  HY_RETURN_IF_ERROR(args.Finish());

  using grpc::health::v1::HealthCheckResponse;
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           std::chrono::duration<double>(timeout_s)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status call = stub->Check(&context, request, &response);
  if (!call.ok())
    return absl::UnavailableError(absl::StrCat(address, ": ", call.error_message(), " (code ",
                                               static_cast<int>(call.error_code()), ")"));
  const std::string name = HealthCheckResponse::ServingStatus_Name(response.status());
  std::printf("%s\n", name.c_str());
  if (response.status() != HealthCheckResponse::SERVING)
    return absl::UnavailableError(absl::StrCat(address, " is ", name));
  return absl::OkStatus();
}

}  // namespace hymba::tools
