// The one mapping from absl::Status (every layer below the server) to grpc::Status.
// InvalidArgument, ResourceExhausted, Unavailable, DeadlineExceeded, Cancelled, NotFound,
// FailedPrecondition and Unimplemented keep their codes and messages; anything else becomes
// INTERNAL with the message.
//
// Thread safety: pure function.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace hymba::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace hymba::server
