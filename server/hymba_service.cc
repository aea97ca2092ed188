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

// Streaming Generate: pulls from the Generation whenever new tokens arrive or a write completes.
class GenerateReactor final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  GenerateReactor(scheduler::EngineLoop* loop, std::unique_ptr<Generation> generation)
      : loop_(loop), generation_(std::move(generation)) {
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
    delete this;
  }

 private:
  void Pump() {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_ || finished_) return;
    if (broken_) {
      finished_ = true;
      loop_->Cancel(generation_->id());
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    response_.Clear();
    absl::Status status;
    const bool done = generation_->Pull(&response_, &status);
    if (done) {
      finished_ = true;
      if (!status.ok() && !wrote_any_) {
        Finish(ToGrpcStatus(status));  // nothing streamed yet: the error is the call's status
        return;
      }
      StartWriteAndFinish(&response_, grpc::WriteOptions(), ToGrpcStatus(status));
      return;
    }
    if (response_.token_ids_size() == 0 && response_.text().empty()) return;
    writing_ = true;
    wrote_any_ = true;
    StartWrite(&response_);
  }

  scheduler::EngineLoop* loop_;
  std::unique_ptr<Generation> generation_;
  std::mutex mu_;
  v1::GenerateResponse response_;  // the write in flight
  bool writing_ = false, finished_ = false, broken_ = false, wrote_any_ = false;
};

// Unary Complete: accumulates everything into one response.
class CompleteReactor final : public grpc::ServerUnaryReactor {
 public:
  CompleteReactor(scheduler::EngineLoop* loop, std::unique_ptr<Generation> generation,
                  v1::GenerateResponse* response)
      : loop_(loop), generation_(std::move(generation)), response_(response) {
    generation_->stream().SetListener([this] { Pump(); });
    Pump();
  }
  void OnCancel() override { loop_->Cancel(generation_->id()); }
  void OnDone() override {
    generation_->stream().SetListener(nullptr);
    delete this;
  }

 private:
  void Pump() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    absl::Status status;
    if (!generation_->Pull(response_, &status)) return;
    finished_ = true;
    Finish(ToGrpcStatus(status));
  }

  scheduler::EngineLoop* loop_;
  std::unique_ptr<Generation> generation_;
  v1::GenerateResponse* response_;
  std::mutex mu_;
  bool finished_ = false;
};

}  // namespace

HymbaService::HymbaService(scheduler::EngineLoop* loop, const engine::TextCodec* codec,
                           int max_batch_tokens)
    : loop_(loop),
      codec_(codec),
      builder_(*codec, loop->info()),
      max_batch_tokens_(max_batch_tokens) {}

absl::StatusOr<std::unique_ptr<Generation>> HymbaService::Start(
    const grpc::CallbackServerContext& context, const v1::GenerateRequest& request) {
  const uint64_t id = next_id_++;
  auto built = builder_.Build(request, id, /*seed=*/id * 0x9E3779B97F4A7C15ull);
  if (!built.ok()) return built.status();
  built->request.deadline = CallDeadline(context);
  const uint64_t seed = built->request.sampling.seed;
  auto stream = loop_->Submit(std::move(built->request));
  return std::make_unique<Generation>(loop_, *codec_, std::move(stream), built->from_text,
                                      std::move(built->stop_strings), seed);
}

grpc::ServerWriteReactor<v1::GenerateResponse>* HymbaService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  auto generation = Start(*context, *request);
  if (!generation.ok()) {
    class Refused final : public grpc::ServerWriteReactor<v1::GenerateResponse> {
     public:
      explicit Refused(grpc::Status s) { Finish(std::move(s)); }
      void OnDone() override { delete this; }
    };
    return new Refused(ToGrpcStatus(generation.status()));
  }
  return new GenerateReactor(loop_, std::move(generation).value());
}

grpc::ServerUnaryReactor* HymbaService::Complete(grpc::CallbackServerContext* context,
                                                 const v1::GenerateRequest* request,
                                                 v1::GenerateResponse* response) {
  auto generation = Start(*context, *request);
  if (!generation.ok()) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(generation.status()));
    return reactor;
  }
  return new CompleteReactor(loop_, std::move(generation).value(), response);
}

grpc::ServerUnaryReactor* HymbaService::Tokenize(grpc::CallbackServerContext* context,
                                                 const v1::TokenizeRequest* request,
                                                 v1::TokenizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  auto ids = codec_->Encode(request->text(), request->add_special_tokens());
  if (ids.ok())
    for (int id : *ids) response->add_ids(id);
  reactor->Finish(ToGrpcStatus(ids.status()));
  return reactor;
}

grpc::ServerUnaryReactor* HymbaService::Detokenize(grpc::CallbackServerContext* context,
                                                   const v1::DetokenizeRequest* request,
                                                   v1::DetokenizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  for (int i = 0; i < request->ids_size(); ++i) {
    if (request->ids(i) < 0 || request->ids(i) >= codec_->vocab_size()) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("ids[", i, "] = ", request->ids(i), ": outside the vocabulary")));
      return reactor;
    }
  }
  std::vector<int> ids(request->ids().begin(), request->ids().end());
  response->set_text(codec_->Decode(ids));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* HymbaService::GetModelInfo(grpc::CallbackServerContext* context,
                                                     const v1::GetModelInfoRequest*,
                                                     v1::ModelInfo* response) {
  const engine::EngineInfo& info = loop_->info();
  response->set_model_name(info.model_name);
  response->set_device(info.device);
  response->set_precision(info.precision);
  response->set_vocab_size(info.vocab_size);
  response->set_max_slots(info.max_slots);
  response->set_max_seq_len(info.max_seq_len);
  response->set_max_batch_tokens(max_batch_tokens_);
  response->set_num_meta_tokens(info.num_meta_tokens);
  response->set_weight_bytes(info.weight_bytes);
  response->set_state_bytes_per_slot(info.state_bytes_per_slot);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace hymba::server
