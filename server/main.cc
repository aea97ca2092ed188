// hymba-server: flags -> HymbaServer. The gRPC port (hymba.v1, grpc.health.v1, reflection) and
// the metrics port open first with health NOT_SERVING; the model loads (on the engine-loop
// thread) and health turns SERVING; SIGTERM/SIGINT drain (NOT_SERVING, new calls UNAVAILABLE,
// --drain_timeout_s for calls in flight) and exit 0.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "engine/base/logging.h"
#include "engine/hymba_engine.h"
#include "engine/model/tokenizer.h"
#include "server/hymba_server.h"

ABSL_FLAG(std::string, model, "", "model directory (config.json, *.safetensors, tokenizer.model)");
ABSL_FLAG(std::string, host, "0.0.0.0", "address to listen on");
ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one, which is logged)");
ABSL_FLAG(int, metrics_port, 9464,
          "Prometheus /metrics port (0 picks a free one, which is logged; -1 turns it off)");
ABSL_FLAG(int, max_connection_age_s, 0,
          "close client connections after this many seconds so clients rebalance (0 = never)");
ABSL_FLAG(int64_t, max_request_bytes, 1 << 20, "largest request accepted (INVALID_ARGUMENT above)");
ABSL_FLAG(int, engine_stall_timeout_s, 120,
          "health turns NOT_SERVING while one engine step runs longer than this");
ABSL_FLAG(std::string, device, "auto", "auto | cpu | cuda");
ABSL_FLAG(std::string, precision, "auto", "f32 | bf16 | auto");
ABSL_FLAG(int, threads, 0, "CPU worker threads (0 = all cores)");
ABSL_FLAG(int, max_slots, 8, "concurrent sequences (fixed per-sequence state slots)");
ABSL_FLAG(int, max_seq_len, 0, "prompt + generated tokens per sequence (0 = from the model)");
ABSL_FLAG(std::string, kv_cache, "f32", "K/V cache precision: f32 | bf16");
ABSL_FLAG(std::string, prefill_gemm, "default",
          "CPU, bf16: many-row (prefill) GEMMs on the default path | fp16 (AVX512-FP16 arithmetic: "
          "faster; errors like rounding activations to bf16)");
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
  // Idle OpenMP workers spin only briefly, then sleep. With libgomp's default (~3 ms of spinning)
  // workers starved the gRPC threads and any neighbour process on a small machine into
  // multi-second stalls; sleeping at once (OMP_WAIT_POLICY=PASSIVE) costs each of the ~200
  // parallel regions of a decode step a wake-up, which made a 1.5B decode step 35% slower
  // (163 vs 121 ms). GOMP_SPINCOUNT=3000 (~30 µs) spans the gaps inside a step and sleeps
  // between steps (benchmarks/README.md, "Serving"). libgomp reads its variables when it loads,
  // before main, so the server sets the spin count and runs itself again; a wait policy or spin
  // count set by the caller is kept.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
    setenv("GOMP_SPINCOUNT", "3000", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: go on with the default policy
  }
  absl::SetProgramUsageMessage(
      "hymba-server --model DIR [--port 50051] [--metrics_port 9464] [flags]\n"
      "Flags can also come from a file: --flagfile=FILE with one --name=value per line.");
  absl::ParseCommandLine(argc, argv);
  if (auto s =
          hymba::ConfigureLogging(absl::GetFlag(FLAGS_log_format), absl::GetFlag(FLAGS_log_level));
      !s.ok())
    return Fail("--log_format/--log_level", s);
  const std::string model = absl::GetFlag(FLAGS_model);
  if (model.empty()) return Fail("--model", absl::InvalidArgumentError("is required"));
  const std::string kv_cache = absl::GetFlag(FLAGS_kv_cache);
  const std::string prefill_gemm = absl::GetFlag(FLAGS_prefill_gemm);
  if (prefill_gemm != "default" && prefill_gemm != "fp16")
    return Fail("--prefill_gemm",
                absl::InvalidArgumentError("expected default or fp16, got " + prefill_gemm));
  if (kv_cache != "f32" && kv_cache != "bf16")
    return Fail("--kv_cache", absl::InvalidArgumentError("expected f32 or bf16, got " + kv_cache));

  hymba::server::ServerOptions server_options;
  server_options.host = absl::GetFlag(FLAGS_host);
  server_options.port = absl::GetFlag(FLAGS_port);
  server_options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  server_options.max_connection_age_s = absl::GetFlag(FLAGS_max_connection_age_s);
  server_options.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  server_options.stall_timeout = absl::Seconds(absl::GetFlag(FLAGS_engine_stall_timeout_s));
  auto server = hymba::server::HymbaServer::Listen(server_options);
  if (!server.ok()) return Fail("listen", server.status());

  // Signals from here on: a SIGTERM while the model loads still drains cleanly.
  absl::Notification stop;
  g_stop = &stop;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  hymba::engine::EngineOptions options;
  options.model_dir = model;
  options.backend.device = absl::GetFlag(FLAGS_device);
  options.backend.precision = absl::GetFlag(FLAGS_precision);
  options.backend.threads = absl::GetFlag(FLAGS_threads);
  options.max_slots = absl::GetFlag(FLAGS_max_slots);
  options.max_seq_len = absl::GetFlag(FLAGS_max_seq_len);
  options.kv_cache_bf16 = kv_cache == "bf16";
  options.backend.prefill_gemm_fp16 = prefill_gemm == "fp16";
  hymba::server::ModelSource source;
  source.make_codec = [&]() -> absl::StatusOr<std::unique_ptr<hymba::engine::TextCodec>> {
    auto tokenizer = hymba::engine::Tokenizer::Load(model);
    if (!tokenizer.ok()) return tokenizer.status();
    return std::unique_ptr<hymba::engine::TextCodec>(std::move(tokenizer).value());
  };
  source.make_engine = [&]() -> absl::StatusOr<std::unique_ptr<hymba::engine::Engine>> {
    auto e = hymba::engine::HymbaEngine::Create(options);
    if (!e.ok()) return e.status();
    return std::unique_ptr<hymba::engine::Engine>(std::move(e).value());
  };
  source.scheduler.max_batch_tokens = absl::GetFlag(FLAGS_max_batch_tokens);
  source.scheduler.prefill_chunk = absl::GetFlag(FLAGS_prefill_chunk);
  source.scheduler.max_queue = absl::GetFlag(FLAGS_max_queue);
  if (auto s = (*server)->Load(std::move(source)); !s.ok()) {
    (*server)->Drain(absl::ZeroDuration());
    return Fail("model", s);
  }

  stop.WaitForNotification();
  (*server)->Drain(absl::Seconds(absl::GetFlag(FLAGS_drain_timeout_s)));
  return 0;
}
