#include "server/hymba_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "server/metrics_http.h"

namespace hymba::server {
namespace {

constexpr char kServiceName[] = "hymba.v1.Hymba";

}  // namespace

HymbaServer::HymbaServer(const ServerOptions& options) : options_(options), service_(&metrics_) {}

absl::StatusOr<std::unique_ptr<HymbaServer>> HymbaServer::Listen(const ServerOptions& options) {
  std::unique_ptr<HymbaServer> s(new HymbaServer(options));
  // gRPC's built-in health service answers grpc.health.v1; linking its descriptor lets server
  // reflection describe it too.
  grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string address = absl::StrCat(options.host, ":", options.port);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &s->port_);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a taken port must fail clearly
  if (options.max_connection_age_s > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, options.max_connection_age_s * 1000);
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               options.max_connection_age_s * 1000);
  }
  // Messages a little over the request limit still arrive, so the limit's error names the field.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(std::max<size_t>(4 << 20, 2 * options.max_request_bytes)));
  builder.RegisterService(&s->service_);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0)
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (is the port in use or the address wrong?)"));
  s->SetServing(false);

  if (options.metrics_port >= 0) {
    auto metrics =
        MetricsHttpServer::Start(options.host, options.metrics_port, s->metrics_.registry());
    if (!metrics.ok()) {
      s->server_->Shutdown();
      s->server_.reset();
      return absl::UnavailableError(absl::StrCat("metrics: ", metrics.status().message()));
    }
    s->metrics_http_ = std::move(metrics).value();
    s->metrics_port_ = s->metrics_http_->port();
  }
  spdlog::info(
      "listening on {}:{} (health NOT_SERVING until the model is loaded){}", options.host, s->port_,
      s->metrics_port_ >= 0
          ? absl::StrCat(", metrics on http://", options.host, ":", s->metrics_port_, "/metrics")
          : std::string());
  s->watchdog_ = std::thread([raw = s.get()] { raw->Watch(); });
  return s;
}

HymbaServer::~HymbaServer() {
  Drain(absl::ZeroDuration());
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_watch_ = true;
  }
  wake_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
}

absl::Status HymbaServer::Load(ModelSource model) {
  auto codec = model.make_codec();
  if (!codec.ok()) return codec.status();
  codec_ = std::move(codec).value();
  scheduler::SchedulerOptions base = model.scheduler;
  auto loop = scheduler::EngineLoop::Start(std::move(model.make_engine),
                                           [base](const engine::EngineInfo& info) {
                                             scheduler::SchedulerOptions s = base;
                                             s.max_slots = info.max_slots;
                                             s.max_seq_len = info.max_seq_len;
                                             s.vocab_size = info.vocab_size;
                                             s.eos_token_id = info.eos_token_id;
                                             return s;
                                           });
  if (!loop.ok()) return loop.status();
  scheduler::EngineLoop* raw = loop->get();
  raw->SetStatsSink(&metrics_);
  const engine::EngineInfo& info = raw->info();
  metrics_.SetModel(info, base.max_batch_tokens);
  service_.Attach(raw, codec_.get(), base.max_batch_tokens, options_.max_request_bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    loop_ = std::move(loop).value();
  }
  if (absl::Status chat = codec_->RenderChat({{"user", "hi"}}, true).status();
      chat.code() == absl::StatusCode::kFailedPrecondition)
    spdlog::warn("the Chat call is unavailable: {}", std::string(chat.message()));
  SetServing(true);
  spdlog::info(
      "serving {} on {}:{} ({} {}, {} slots x {} tokens, max_batch_tokens {}, prefill_chunk {}, "
      "max_queue {}, weights {:.1f} MiB, state {:.2f} MiB per slot)",
      info.model_name, options_.host, port_, info.device, info.precision, info.max_slots,
      info.max_seq_len, base.max_batch_tokens, base.prefill_chunk, base.max_queue,
      info.weight_bytes / 1048576.0, info.state_bytes_per_slot / 1048576.0);
  return absl::OkStatus();
}

void HymbaServer::SetServing(bool serving) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (serving && draining_) return;  // once draining, never SERVING again
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus(serving);
  health->SetServingStatus(kServiceName, serving);
  metrics_.SetServing(serving);
}

void HymbaServer::Drain(absl::Duration timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ || server_ == nullptr) return;
    draining_ = true;
  }
  service_.StartDraining();
  SetServing(false);
  spdlog::info("draining: health NOT_SERVING, new calls UNAVAILABLE, {} calls in flight get {} s",
               service_.in_flight(), absl::ToDoubleSeconds(timeout));
  const absl::Time until = absl::Now() + timeout;
  while (service_.in_flight() > 0 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
  if (service_.in_flight() > 0)
    spdlog::warn("drain timeout: cancelling {} calls in flight", service_.in_flight());
  server_->Shutdown(std::chrono::system_clock::now());
  std::unique_ptr<scheduler::EngineLoop> loop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    loop = std::move(loop_);
  }
  loop.reset();  // requests still queued end as cancelled
  metrics_http_.reset();
  spdlog::info("stopped");
}

void HymbaServer::Watch() {
  const auto period = std::chrono::milliseconds(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options_.stall_timeout) / 4, 10, 1000));
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, period, [this] { return stop_watch_; })) {
    if (draining_ || loop_ == nullptr) continue;
    const absl::Duration running = absl::Now() - loop_->step_started();
    const bool stalled = running > options_.stall_timeout;
    if (stalled == stalled_) continue;
    stalled_ = stalled;
    lock.unlock();
    if (stalled) {
      spdlog::error("an engine step has run for {:.0f} s: health NOT_SERVING until it ends",
                    absl::ToDoubleSeconds(running));
    } else {
      spdlog::info("the engine is stepping again: health SERVING");
    }
    SetServing(!stalled);
    lock.lock();
  }
}

}  // namespace hymba::server
