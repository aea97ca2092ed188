#include "server/hymba_service.h"

#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "server/generation.h"
#include "server/grpc_status.h"

namespace hymba::server {
namespace {

// The client's gRPC deadline, handed to the scheduler: a request past it leaves the batch at the
// next step and its slot is freed.
absl::Time CallDeadline(const grpc::CallbackServerContext& context) {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(deadline);
}

// Ends a call that never ran: the status is the call's, counted and logged.
class RefusedStream final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  RefusedStream(const grpc::Status& status, CallLog log) {
    log.Done(status, nullptr);
    Finish(status);
  }
  void OnDone() override { delete this; }
};

// Streaming Generate and Chat: pulls from the Generation whenever new tokens arrive or a write
// completes.
class StreamReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  StreamReactor(scheduler::EngineLoop* loop, std::unique_ptr<Generation> generation, CallLog log,
                std::atomic<int>* in_flight)
      : loop_(loop),
        generation_(std::move(generation)),
        log_(std::move(log)),
        in_flight_(in_flight) {
    generation_->stream().SetListener([this] { Pump(); });
    Pump();  // items may have arrived before the listener was set
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) broken_ = true;
    }
    Pump();
  }
  void OnCancel() override { loop_->Cancel(generation_->id()); }
  void OnDone() override {
    generation_->stream().SetListener(nullptr);
    log_.Done(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"), generation_.get());
    in_flight_->fetch_sub(1);
    delete this;
  }

 private:
  void End(const grpc::Status& status) {
    finished_ = true;
    log_.Done(status, generation_.get());
  }

  void Pump() {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_ || finished_) return;
    if (broken_) {
      const grpc::Status status(grpc::StatusCode::CANCELLED, "the client went away");
      End(status);
      loop_->Cancel(generation_->id());
      Finish(status);
      return;
    }
    response_.Clear();
    absl::Status status;
    if (generation_->Pull(&response_, &status)) {
      const grpc::Status call_status = ToGrpcStatus(status);
      End(call_status);
      if (!status.ok() && !wrote_any_) {
        Finish(call_status);  // nothing streamed yet: the error is the call's status
        return;
      }
      StartWriteAndFinish(&response_, grpc::WriteOptions(), call_status);
      return;
    }
    if (response_.token_ids_size() == 0 && response_.text().empty()) return;
    writing_ = true;
    wrote_any_ = true;
    StartWrite(&response_);
  }

  scheduler::EngineLoop* loop_;
  std::unique_ptr<Generation> generation_;
  CallLog log_;
  std::atomic<int>* in_flight_;
  std::mutex mu_;
  v1::GenerateResponse response_;  // the write in flight
  bool writing_ = false, finished_ = false, broken_ = false, wrote_any_ = false;
};

// Unary Complete: accumulates everything into one response.
class CompleteReactor final : public grpc::ServerUnaryReactor {
 public:
  CompleteReactor(scheduler::EngineLoop* loop, std::unique_ptr<Generation> generation,
                  v1::GenerateResponse* response, CallLog log, std::atomic<int>* in_flight)
      : loop_(loop),
        generation_(std::move(generation)),
        response_(response),
        log_(std::move(log)),
        in_flight_(in_flight) {
    generation_->stream().SetListener([this] { Pump(); });
    Pump();
  }
  void OnCancel() override { loop_->Cancel(generation_->id()); }
  void OnDone() override {
    generation_->stream().SetListener(nullptr);
    log_.Done(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"), generation_.get());
    in_flight_->fetch_sub(1);
    delete this;
  }

 private:
  void Pump() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    absl::Status status;
    if (!generation_->Pull(response_, &status)) return;
    finished_ = true;
    const grpc::Status call_status = ToGrpcStatus(status);
    log_.Done(call_status, generation_.get());
    Finish(call_status);
  }

  scheduler::EngineLoop* loop_;
  std::unique_ptr<Generation> generation_;
  v1::GenerateResponse* response_;
  CallLog log_;
  std::atomic<int>* in_flight_;
  std::mutex mu_;
  bool finished_ = false;
};

}  // namespace

struct HymbaService::Attached {
  Attached(scheduler::EngineLoop* l, const engine::TextCodec* c, int mbt, size_t max_bytes)
      : loop(l), codec(c), builder(*c, l->info(), max_bytes), max_batch_tokens(mbt) {}
  scheduler::EngineLoop* loop;
  const engine::TextCodec* codec;
  RequestBuilder builder;
  int max_batch_tokens;
};

HymbaService::HymbaService(ServerMetrics* metrics) : metrics_(metrics) {}

HymbaService::HymbaService(scheduler::EngineLoop* loop, const engine::TextCodec* codec,
                           int max_batch_tokens)
    : metrics_(nullptr) {
  Attach(loop, codec, max_batch_tokens);
}

HymbaService::~HymbaService() = default;

void HymbaService::Attach(scheduler::EngineLoop* loop, const engine::TextCodec* codec,
                          int max_batch_tokens, size_t max_request_bytes) {
  attached_ = std::make_unique<Attached>(loop, codec, max_batch_tokens, max_request_bytes);
  state_.store(State::kServing);
}

void HymbaService::StartDraining() { state_.store(State::kDraining); }

absl::Status HymbaService::Admission() const {
  switch (state_.load()) {
    case State::kLoading:
      return absl::UnavailableError("the model is still loading");
    case State::kDraining:
      return absl::UnavailableError("the server is shutting down");
    case State::kServing:
      break;
  }
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::GenerateResponse>* HymbaService::Stream(
    grpc::CallbackServerContext* context, absl::StatusOr<BuiltRequest> built, CallLog log,
    absl::Time start) {
  auto generation = Start(*context, std::move(built), start);
  if (!generation.ok()) return new RefusedStream(ToGrpcStatus(generation.status()), std::move(log));
  return new StreamReactor(attached_->loop, std::move(generation).value(), std::move(log),
                           &in_flight_);
}

absl::StatusOr<std::unique_ptr<Generation>> HymbaService::Start(
    const grpc::CallbackServerContext& context, absl::StatusOr<BuiltRequest> built,
    absl::Time start) {
  if (!built.ok()) return built.status();
  built->request.deadline = CallDeadline(context);
  built->request.arrival = start;
  const uint64_t seed = built->request.sampling.seed;
  in_flight_.fetch_add(1);
  auto stream = attached_->loop->Submit(std::move(built->request));
  return std::make_unique<Generation>(attached_->loop, *attached_->codec, std::move(stream),
                                      built->from_text, std::move(built->stop_strings), seed,
                                      start);
}

namespace {
uint64_t DefaultSeed(uint64_t id) { return id * 0x9E3779B97F4A7C15ull; }
}  // namespace

grpc::ServerWriteReactor<v1::GenerateResponse>* HymbaService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  const absl::Time start = absl::Now();
  const uint64_t id = next_id_++;
  CallLog log("Generate", id, request->request_id(), start, metrics_);
  if (absl::Status s = Admission(); !s.ok())
    return new RefusedStream(ToGrpcStatus(s), std::move(log));
  return Stream(context, attached_->builder.Build(*request, id, DefaultSeed(id)), std::move(log),
                start);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* HymbaService::Chat(
    grpc::CallbackServerContext* context, const v1::ChatRequest* request) {
  const absl::Time start = absl::Now();
  const uint64_t id = next_id_++;
  CallLog log("Chat", id, request->options().request_id(), start, metrics_);
  if (absl::Status s = Admission(); !s.ok())
    return new RefusedStream(ToGrpcStatus(s), std::move(log));
  return Stream(context, attached_->builder.BuildChat(*request, id, DefaultSeed(id)),
                std::move(log), start);
}

grpc::ServerUnaryReactor* HymbaService::Complete(grpc::CallbackServerContext* context,
                                                 const v1::GenerateRequest* request,
                                                 v1::GenerateResponse* response) {
  const absl::Time start = absl::Now();
  const uint64_t id = next_id_++;
  CallLog log("Complete", id, request->request_id(), start, metrics_);
  const absl::Status admission = Admission();
  absl::StatusOr<std::unique_ptr<Generation>> generation =
      admission.ok()
          ? Start(*context, attached_->builder.Build(*request, id, DefaultSeed(id)), start)
          : admission;
  if (!generation.ok()) {
    const grpc::Status status = ToGrpcStatus(generation.status());
    log.Done(status, nullptr);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }
  return new CompleteReactor(attached_->loop, std::move(generation).value(), response,
                             std::move(log), &in_flight_);
}

grpc::ServerUnaryReactor* HymbaService::Tokenize(grpc::CallbackServerContext* context,
                                                 const v1::TokenizeRequest* request,
                                                 v1::TokenizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (absl::Status s = Admission(); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  auto ids = attached_->codec->Encode(request->text(), request->add_special_tokens());
  if (ids.ok())
    for (int id : *ids) response->add_ids(id);
  reactor->Finish(ToGrpcStatus(ids.status()));
  return reactor;
}

grpc::ServerUnaryReactor* HymbaService::Detokenize(grpc::CallbackServerContext* context,
                                                   const v1::DetokenizeRequest* request,
                                                   v1::DetokenizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (absl::Status s = Admission(); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  const engine::TextCodec& codec = *attached_->codec;
  for (int i = 0; i < request->ids_size(); ++i) {
    if (request->ids(i) < 0 || request->ids(i) >= codec.vocab_size()) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("ids[", i, "] = ", request->ids(i), ": outside the vocabulary")));
      return reactor;
    }
  }
  std::vector<int> ids(request->ids().begin(), request->ids().end());
  response->set_text(codec.Decode(ids));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* HymbaService::GetModelInfo(grpc::CallbackServerContext* context,
                                                     const v1::GetModelInfoRequest*,
                                                     v1::ModelInfo* response) {
  auto* reactor = context->DefaultReactor();
  if (absl::Status s = Admission(); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  const engine::EngineInfo& info = attached_->loop->info();
  response->set_model_name(info.model_name);
  response->set_device(info.device);
  response->set_precision(info.precision);
  response->set_vocab_size(info.vocab_size);
  response->set_max_slots(info.max_slots);
  response->set_max_seq_len(info.max_seq_len);
  response->set_max_batch_tokens(attached_->max_batch_tokens);
  response->set_num_meta_tokens(info.num_meta_tokens);
  response->set_weight_bytes(info.weight_bytes);
  response->set_state_bytes_per_slot(info.state_bytes_per_slot);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace hymba::server
