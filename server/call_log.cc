#include "server/call_log.h"

#include <spdlog/spdlog.h>

#include "absl/strings/escaping.h"

namespace hymba::server {

void CallLog::Done(const grpc::Status& status, const Generation* generation) {
  if (done_) return;
  done_ = true;
  const std::string code = GrpcCodeName(status.error_code());
  const char* reason = generation != nullptr ? generation->finish_reason() : "none";
  if (metrics_ != nullptr) metrics_->OnCallDone(method_, code, reason);
  const double latency = absl::ToDoubleSeconds(absl::Now() - start_);
  const double ttft = generation != nullptr ? generation->first_token_seconds() : -1;
  const int prompt = generation != nullptr ? generation->prompt_tokens() : 0;
  const int completion = generation != nullptr ? generation->completion_tokens() : 0;
  if (status.ok()) {
    spdlog::info(
        "request id={} request_id=\"{}\" method={} code={} finish_reason={} prompt_tokens={} "
        "completion_tokens={} ttft_s={:.3f} latency_s={:.3f}",
        id_, absl::CEscape(client_request_id_), method_, code, reason, prompt, completion,
        ttft < 0 ? 0.0 : ttft, latency);
  } else {
    spdlog::info(
        "request id={} request_id=\"{}\" method={} code={} finish_reason={} prompt_tokens={} "
        "completion_tokens={} latency_s={:.3f} error=\"{}\"",
        id_, absl::CEscape(client_request_id_), method_, code, reason, prompt, completion, latency,
        absl::CEscape(status.error_message()));
  }
}

}  // namespace hymba::server
