// ServerMetrics: the server's Prometheus metrics (prometheus-cpp), all named `hymba_*`.
//
//   engine loop (StatsSink, engine-loop thread): running / waiting requests, slots in use, step
//     time, tokens and sequences per step, prompt and generation token counters, time to first
//     token, inter-token latency, queue time, end-to-end latency, prompt and generation lengths;
//   calls (gRPC threads): requests by method, gRPC code and finish reason;
//   identity: model info, slot and context capacity, health.
//
// Histogram buckets span GPU (milliseconds) and CPU (seconds) latencies.
//
// Ownership: owns its registry; the metrics HTTP server (or a test) shares registry().
// Thread safety: thread-safe.
#pragma once

#include <memory>
#include <string>

#include "engine/api/engine.h"
#include "scheduler/stats_sink.h"

namespace prometheus {
class Registry;
}

namespace hymba::server {

class ServerMetrics final : public scheduler::StatsSink {
 public:
  ServerMetrics();
  ~ServerMetrics() override;
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  std::shared_ptr<prometheus::Registry> registry() const;

  // Once the model is loaded: identity and capacity gauges.
  void SetModel(const engine::EngineInfo& info, int max_batch_tokens);
  void SetServing(bool serving);

  // scheduler::StatsSink
  void OnStep(const scheduler::SchedulerStats& stats, double step_seconds) override;
  void OnEvent(const scheduler::Event& event) override;

  // One finished call. `finish_reason` is a scheduler FinishReasonName, or "none" for a call
  // refused before it ran; `code` a gRPC status code name such as "OK" or "INVALID_ARGUMENT".
  void OnCallDone(const std::string& method, const std::string& code,
                  const std::string& finish_reason);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The gRPC status code's canonical name ("OK", "INVALID_ARGUMENT", ...).
std::string GrpcCodeName(int code);

}  // namespace hymba::server
