// HymbaServer: the whole server process minus flag parsing: the hymba.v1 service, the standard
// grpc.health.v1 service and server reflection on one gRPC port, Prometheus metrics on another,
// and the engine loop behind them.
//
// Life cycle (health is reported overall "" and for "hymba.v1.Hymba"):
//   Listen   ports bound, health NOT_SERVING, hymba.v1 calls UNAVAILABLE ("still loading");
//   Load     tokenizer and engine built (on the engine-loop thread), then health SERVING;
//   Drain    health NOT_SERVING, new calls UNAVAILABLE, calls in flight get `timeout` to finish
//            and are then cancelled; the engine loop stops. The destructor drains with no grace.
// A watchdog turns health NOT_SERVING while one engine step has run longer than
// `stall_timeout` (a hung engine) and back to SERVING when steps move again.
//
// Ownership: owns everything it starts.
// Errors: Listen returns Unavailable when a port cannot be bound (SO_REUSEPORT is off, so a
// taken port fails); Load returns the model's error.
// Thread safety: Listen, Load and Drain are called from one thread, in that order.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/api/text_codec.h"
#include "scheduler/engine_loop.h"
#include "server/hymba_service.h"
#include "server/metrics.h"
#include "server/metrics_http.h"

namespace hymba::server {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 50051;              // 0: any free port (see HymbaServer::port())
  int metrics_port = 9464;       // 0: any free port; -1: no metrics endpoint
  int max_connection_age_s = 0;  // > 0: connections are closed after this age (client-side LB)
  size_t max_request_bytes = RequestBuilder::kDefaultMaxRequestBytes;
  absl::Duration stall_timeout = absl::Seconds(120);
};

// What Load builds: the engine (on the loop thread), the tokenizer, and scheduler settings whose
// capacity fields (max_slots, max_seq_len, vocab_size, eos_token_id) are taken from the engine.
struct ModelSource {
  scheduler::EngineLoop::EngineFactory make_engine;
  std::function<absl::StatusOr<std::unique_ptr<engine::TextCodec>>()> make_codec;
  scheduler::SchedulerOptions scheduler;
};

class HymbaServer {
 public:
  static absl::StatusOr<std::unique_ptr<HymbaServer>> Listen(const ServerOptions& options);
  ~HymbaServer();

  absl::Status Load(ModelSource model);
  void Drain(absl::Duration timeout);

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }  // -1 without a metrics endpoint
  ServerMetrics& metrics() { return metrics_; }
  HymbaService& service() { return service_; }
  scheduler::EngineLoop* loop() { return loop_.get(); }

 private:
  explicit HymbaServer(const ServerOptions& options);
  void SetServing(bool serving);
  void Watch();

  ServerOptions options_;
  ServerMetrics metrics_;
  HymbaService service_;
  std::unique_ptr<engine::TextCodec> codec_;
  std::unique_ptr<scheduler::EngineLoop> loop_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  int port_ = 0;
  int metrics_port_ = -1;

  std::mutex mu_;
  std::condition_variable wake_;
  bool draining_ = false;    // guarded by mu_
  bool stalled_ = false;     // guarded by mu_
  bool stop_watch_ = false;  // guarded by mu_
  std::thread watchdog_;
};

}  // namespace hymba::server
