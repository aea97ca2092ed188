// hymba health: one grpc.health.v1.Health/Check call; prints the serving status and succeeds
// only on SERVING, so it can serve as a container health check.
//
// The health messages are encoded here by hand (HealthCheckRequest {string service = 1},
// HealthCheckResponse {ServingStatus status = 1}) because the installed gRPC ships no generated
// health stubs.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine/base/status_macros.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";
// grpc.health.v1.HealthCheckResponse.ServingStatus
constexpr const char* kStatusNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"};
constexpr int kServing = 1;

std::string EncodeRequest(const std::string& service) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    if (!service.empty()) WireFormatLite::WriteString(1, service, &out);
  }
  return bytes;
}

// The status field of a HealthCheckResponse; 0 (UNKNOWN) when absent, as proto3 reads it.
absl::StatusOr<int> DecodeStatus(const std::string& bytes) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  int status = 0;
  bool ok = true;
  while (ok) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;  // the end, or a malformed tag (caught below)
    uint32_t value;
    if (tag == WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_VARINT)) {
      ok = in.ReadVarint32(&value);
      status = static_cast<int>(value);
    } else {
      ok = WireFormatLite::SkipField(&in, tag);
    }
  }
  if (!ok || in.CurrentPosition() != static_cast<int>(bytes.size()))
    return absl::DataLossError("malformed HealthCheckResponse");
  return status;
}

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

absl::Status RunHealth(CliArgs& args) {
  const std::string address = args.StringOr("address", "localhost:50051");
  const std::string service = args.StringOr("service", "");
  HY_ASSIGN_OR_RETURN(double timeout_s, args.DoubleOr("timeout-s", 5.0));
  HY_RETURN_IF_ERROR(args.Finish());

  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           std::chrono::duration<double>(timeout_s)));
  const std::string request_bytes = EncodeRequest(service);
  grpc::Slice slice(request_bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status call_status;
  absl::Notification done;
  stub.UnaryCall(&context, kCheckMethod, grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   call_status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!call_status.ok())
    return absl::UnavailableError(absl::StrCat(address, ": ", call_status.error_message(),
                                               " (code ",
                                               static_cast<int>(call_status.error_code()), ")"));
  HY_ASSIGN_OR_RETURN(int status, DecodeStatus(ToString(response)));
  const std::string name = status >= 0 && status < static_cast<int>(std::size(kStatusNames))
                               ? kStatusNames[status]
                               : absl::StrCat("STATUS_", status);
  std::printf("%s\n", name.c_str());
  if (status != kServing) return absl::UnavailableError(absl::StrCat(address, " is ", name));
  return absl::OkStatus();
}

}  // namespace hymba::tools
