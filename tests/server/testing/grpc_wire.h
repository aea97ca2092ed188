// Test clients: grpc.reflection.v1alpha (whose generated stubs are not installed) over
// grpc::GenericStub with the message shapes of wire.proto, grpc.health.v1 Check, and a plain HTTP
// GET for the metrics endpoint.
//
// Thread safety: each function is independent and thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/server/testing/wire.pb.h"

namespace hymba::testing {

// Sends `requests` on one call to `method` ("/pkg.Service/Method"), half-closes, and reads every
// response (serialized) into `responses`. Works for unary and streaming methods.
grpc::Status GenericCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                         const std::vector<const google::protobuf::Message*>& requests,
                         std::vector<std::string>* responses);

// grpc.health.v1.Health/Check for `service` ("" = overall). Returns the status, or UNKNOWN with
// the call's error in `error`.
grpc::health::v1::HealthCheckResponse::ServingStatus HealthStatus(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
    grpc::Status* error = nullptr);

// GET http://127.0.0.1:<port><path>; the body, or "" when the request fails.
std::string HttpGet(int port, const std::string& path);

}  // namespace hymba::testing
