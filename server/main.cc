// hymba-server: the hymba.v1 gRPC service, grpc.health.v1 and server reflection on one port.
// The model loads (on the engine-loop thread) before health turns SERVING; SIGTERM/SIGINT turn
// it NOT_SERVING, stop accepting calls, give in-flight calls --drain_timeout to finish, exit 0.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "engine/base/logging.h"
#include "engine/hymba_engine.h"
#include "engine/model/tokenizer.h"
#include "server/hymba_service.h"

ABSL_FLAG(std::string, model, "", "model directory (config.json, *.safetensors, tokenizer.model)");
ABSL_FLAG(std::string, host, "0.0.0.0", "address to listen on");
ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one, which is logged)");
ABSL_FLAG(std::string, device, "auto", "auto | cpu | cuda");
ABSL_FLAG(std::string, precision, "auto", "f32 | bf16 | auto");
ABSL_FLAG(int, threads, 0, "CPU worker threads (0 = all cores)");
ABSL_FLAG(int, max_slots, 8, "concurrent sequences (fixed per-sequence state slots)");
ABSL_FLAG(int, max_seq_len, 0, "prompt + generated tokens per sequence (0 = from the model)");
ABSL_FLAG(std::string, kv_cache, "f32", "K/V cache precision: f32 | bf16");
ABSL_FLAG(int, max_batch_tokens, 512, "tokens per engine step (>= max_slots)");
ABSL_FLAG(int, prefill_chunk, 256, "prompt tokens per sequence per step");
ABSL_FLAG(int, max_queue, 256, "waiting requests before RESOURCE_EXHAUSTED");
ABSL_FLAG(int, drain_timeout_s, 30, "seconds in-flight calls get after SIGTERM");
ABSL_FLAG(std::string, log_format, "text", "text | json");
ABSL_FLAG(std::string, log_level, "info", "trace | debug | info | warn | error");

namespace {

absl::Notification* g_stop = nullptr;
void OnSignal(int) {
  if (g_stop != nullptr && !g_stop->HasBeenNotified()) g_stop->Notify();
}

int Fail(const std::string& what, const absl::Status& status) {
  spdlog::error("{}: {}", what, std::string(status.message()));
  std::fprintf(stderr, "hymba-server: %s: %s\n", what.c_str(),
               std::string(status.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("hymba-server --model DIR [--port 50051] [flags]");
  absl::ParseCommandLine(argc, argv);
  if (auto s =
          hymba::ConfigureLogging(absl::GetFlag(FLAGS_log_format), absl::GetFlag(FLAGS_log_level));
      !s.ok())
    return Fail("logging", s);
  const std::string model = absl::GetFlag(FLAGS_model);
  if (model.empty()) return Fail("--model", absl::InvalidArgumentError("is required"));

  auto tokenizer = hymba::engine::Tokenizer::Load(model);
  if (!tokenizer.ok()) return Fail("tokenizer", tokenizer.status());
  hymba::engine::EngineOptions options;
  options.model_dir = model;
  options.backend.device = absl::GetFlag(FLAGS_device);
  options.backend.precision = absl::GetFlag(FLAGS_precision);
  options.backend.threads = absl::GetFlag(FLAGS_threads);
  options.max_slots = absl::GetFlag(FLAGS_max_slots);
  options.max_seq_len = absl::GetFlag(FLAGS_max_seq_len);
  options.kv_cache_bf16 = absl::GetFlag(FLAGS_kv_cache) == "bf16";
  const int max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  auto loop = hymba::scheduler::EngineLoop::Start(
      [&]() -> absl::StatusOr<std::unique_ptr<hymba::engine::Engine>> {
        auto e = hymba::engine::HymbaEngine::Create(options);
        if (!e.ok()) return e.status();
        return std::unique_ptr<hymba::engine::Engine>(std::move(e).value());
      },
      [&](const hymba::engine::EngineInfo& info) {
        hymba::scheduler::SchedulerOptions s;
        s.max_slots = info.max_slots;
        s.max_seq_len = info.max_seq_len;
        s.max_batch_tokens = max_batch_tokens;
        s.prefill_chunk = absl::GetFlag(FLAGS_prefill_chunk);
        s.max_queue = absl::GetFlag(FLAGS_max_queue);
        s.vocab_size = info.vocab_size;
        s.eos_token_id = info.eos_token_id;
        return s;
      });
  if (!loop.ok()) return Fail("engine", loop.status());

  hymba::server::HymbaService service(loop->get(), tokenizer->get(), max_batch_tokens);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      absl::GetFlag(FLAGS_host) + ":" + std::to_string(absl::GetFlag(FLAGS_port)),
      grpc::InsecureServerCredentials(), &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // a taken port must fail clearly
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0)
    return Fail("listen", absl::UnavailableError("cannot listen on " + absl::GetFlag(FLAGS_host) +
                                                 ":" + std::to_string(absl::GetFlag(FLAGS_port))));
  server->GetHealthCheckService()->SetServingStatus(true);
  const hymba::engine::EngineInfo& info = (*loop)->info();
  spdlog::info("serving {} on {}:{} ({} {}, {} slots x {} tokens, max_batch_tokens {})",
               info.model_name, absl::GetFlag(FLAGS_host), port, info.device, info.precision,
               info.max_slots, info.max_seq_len, max_batch_tokens);

  absl::Notification stop;
  g_stop = &stop;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  stop.WaitForNotification();
  spdlog::info("draining: health NOT_SERVING, {} s for in-flight calls",
               absl::GetFlag(FLAGS_drain_timeout_s));
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(std::chrono::system_clock::now() +
                   std::chrono::seconds(absl::GetFlag(FLAGS_drain_timeout_s)));
  loop->reset();
  spdlog::info("stopped");
  return 0;
}
