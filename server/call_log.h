// CallLog: the record of one generation call (Generate, Complete or Chat). When the call ends,
// Done counts it in the metrics (method, gRPC code, finish reason) and writes one log line:
//   request id=7 request_id="abc" method=Generate code=OK finish_reason=length
//   prompt_tokens=12 completion_tokens=64 ttft_s=0.081 latency_s=1.902
//
// Ownership: borrows the metrics (may be null).
// Thread safety: not thread-safe; its call's reactor owns it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "server/generation.h"
#include "server/metrics.h"

namespace hymba::server {

class CallLog {
 public:
  CallLog(const char* method, uint64_t id, std::string client_request_id, absl::Time start,
          ServerMetrics* metrics)
      : method_(method),
        id_(id),
        client_request_id_(std::move(client_request_id)),
        start_(start),
        metrics_(metrics) {}

  // Once, when the call ends. `generation` is null for a call refused before it ran.
  void Done(const grpc::Status& status, const Generation* generation);

 private:
  const char* method_;
  uint64_t id_;
  std::string client_request_id_;
  absl::Time start_;
  ServerMetrics* metrics_;
  bool done_ = false;
};

}  // namespace hymba::server
