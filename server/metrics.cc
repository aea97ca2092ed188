#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <vector>

#include "absl/status/status.h"

namespace hymba::server {
namespace {

using prometheus::Histogram;

// Latencies from a fast GPU step (~1 ms) to a long CPU generation (minutes).
const Histogram::BucketBoundaries kFirstTokenBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                        2.5,   5,    10,    20,   40,  80,   160};
const Histogram::BucketBoundaries kTokenGapBuckets = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08,
                                                      0.15,  0.3,    0.6,   1.2,  2.5,  5,    10};
const Histogram::BucketBoundaries kRequestBuckets = {0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,   10,
                                                     20,   40,  80,   160, 320, 640, 1280};
const Histogram::BucketBoundaries kStepBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
const Histogram::BucketBoundaries kLengthBuckets = {1,    4,    16,   64,   128,   256,   512,
                                                    1024, 2048, 4096, 8192, 16384, 32768, 65536};
const Histogram::BucketBoundaries kStepTokenBuckets = {1,   2,   4,   8,    16,   32,   64,
                                                       128, 256, 512, 1024, 2048, 4096, 8192};
const Histogram::BucketBoundaries kStepSequenceBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

}  // namespace

struct ServerMetrics::Impl {
  explicit Impl(std::shared_ptr<prometheus::Registry> r) : registry(std::move(r)) {}

  prometheus::Gauge& AddGauge(const std::string& name, const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(*registry).Add({});
  }
  prometheus::Counter& AddCounter(const std::string& name, const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry).Add({});
  }
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          const Histogram::BucketBoundaries& buckets) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(*registry).Add({}, buckets);
  }

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("hymba_requests_total")
          .Help("Finished calls by method, gRPC status code and finish reason")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& model_info =
      prometheus::BuildGauge()
          .Name("hymba_model_info")
          .Help("The served model (always 1): name, device and precision as labels")
          .Register(*registry);
  prometheus::Gauge& running =
      AddGauge("hymba_requests_running", "Requests holding a slot (prefilling or decoding)");
  prometheus::Gauge& waiting = AddGauge("hymba_requests_waiting", "Requests queued for a slot");
  prometheus::Gauge& slots_in_use = AddGauge("hymba_slots_in_use", "Sequence slots in use");
  prometheus::Gauge& slots_total = AddGauge("hymba_slots_capacity", "Sequence slots (capacity)");
  prometheus::Gauge& max_seq_len =
      AddGauge("hymba_max_seq_len_tokens", "Prompt plus generated tokens per sequence");
  prometheus::Gauge& max_batch_tokens =
      AddGauge("hymba_max_batch_tokens", "Token budget of one engine step");
  prometheus::Gauge& serving =
      AddGauge("hymba_health_serving", "1 while the health service reports SERVING");
  prometheus::Counter& prompt_tokens =
      AddCounter("hymba_prompt_tokens_total", "Prompt tokens computed (prefill)");
  prometheus::Counter& generation_tokens =
      AddCounter("hymba_generation_tokens_total", "Tokens generated");
  Histogram& first_token = AddHistogram("hymba_time_to_first_token_seconds",
                                        "Arrival to first generated token", kFirstTokenBuckets);
  Histogram& token_gap =
      AddHistogram("hymba_inter_token_latency_seconds",
                   "Time between successive tokens of a request", kTokenGapBuckets);
  Histogram& e2e = AddHistogram("hymba_e2e_request_latency_seconds", "Arrival to the request's end",
                                kRequestBuckets);
  Histogram& queue = AddHistogram("hymba_queue_time_seconds", "Arrival to admission into a slot",
                                  kFirstTokenBuckets);
  Histogram& prompt_len = AddHistogram("hymba_request_prompt_tokens",
                                       "Prompt length of finished requests", kLengthBuckets);
  Histogram& generation_len = AddHistogram("hymba_request_generation_tokens",
                                           "Generated tokens of finished requests", kLengthBuckets);
  Histogram& step_time =
      AddHistogram("hymba_step_duration_seconds", "Wall time of one engine step", kStepBuckets);
  Histogram& step_tokens =
      AddHistogram("hymba_step_tokens", "Tokens computed in one engine step", kStepTokenBuckets);
  Histogram& step_sequences =
      AddHistogram("hymba_step_sequences", "Sequences in one engine step", kStepSequenceBuckets);
};

ServerMetrics::ServerMetrics()
    : impl_(std::make_unique<Impl>(std::make_shared<prometheus::Registry>())) {}
ServerMetrics::~ServerMetrics() = default;

std::shared_ptr<prometheus::Registry> ServerMetrics::registry() const { return impl_->registry; }

void ServerMetrics::SetModel(const engine::EngineInfo& info, int max_batch_tokens) {
  impl_->model_info
      .Add({{"model", info.model_name}, {"device", info.device}, {"precision", info.precision}})
      .Set(1);
  impl_->slots_total.Set(info.max_slots);
  impl_->max_seq_len.Set(info.max_seq_len);
  impl_->max_batch_tokens.Set(max_batch_tokens);
}

void ServerMetrics::SetServing(bool serving) { impl_->serving.Set(serving ? 1 : 0); }

void ServerMetrics::OnStep(const scheduler::SchedulerStats& stats, double step_seconds) {
  impl_->running.Set(stats.running);
  impl_->waiting.Set(stats.waiting);
  impl_->slots_in_use.Set(impl_->slots_total.Value() - stats.free_slots);
  impl_->step_time.Observe(step_seconds);
  impl_->step_tokens.Observe(stats.last_step_tokens);
  impl_->step_sequences.Observe(stats.last_step_sequences);
  impl_->prompt_tokens.Increment(stats.last_step_prompt_tokens);
}

void ServerMetrics::OnEvent(const scheduler::Event& event) {
  if (!event.tokens.empty()) {
    impl_->generation_tokens.Increment(static_cast<double>(event.tokens.size()));
    if (event.first_token) {
      impl_->first_token.Observe(event.token_seconds);
      impl_->queue.Observe(event.queue_seconds);
    } else {
      impl_->token_gap.Observe(event.token_seconds / static_cast<double>(event.tokens.size()));
    }
  }
  if (event.finished) {
    impl_->e2e.Observe(event.total_seconds);
    if (event.completion_tokens == 0) impl_->queue.Observe(event.queue_seconds);
    impl_->prompt_len.Observe(event.prompt_tokens);
    impl_->generation_len.Observe(event.completion_tokens);
  }
}

void ServerMetrics::OnCallDone(const std::string& method, const std::string& code,
                               const std::string& finish_reason) {
  impl_->requests.Add({{"method", method}, {"code", code}, {"finish_reason", finish_reason}})
      .Increment();
}

std::string GrpcCodeName(int code) {
  // gRPC's canonical codes and names are absl's ("OK", "INVALID_ARGUMENT", ...).
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace hymba::server
