// HymbaService: the hymba.v1.Hymba gRPC service (callback API) over the engine loop.
//
// Life cycle: created "loading" (every call gets UNAVAILABLE until Attach hands it the loaded
// model), then serving, then draining after StartDraining (new calls get UNAVAILABLE while calls
// in flight carry on; in_flight() counts them).
//
// Generate and Chat stream with one write in flight: the request's TokenStream listener (engine
// thread) and OnWriteDone (gRPC thread) both pull what is ready and start the next write. Errors
// before the first token are the call's status; a client that goes away cancels its request,
// whose slot is freed at the next engine step. Every generation call that ends is counted in the
// metrics (method, gRPC code, finish reason) and logged in one line.
//
// Ownership: borrows the loop, codec and metrics, which must outlive the server.
// Thread safety: thread-safe (gRPC calls it from its threads).
#pragma once

#include <atomic>
#include <memory>

#include "engine/api/text_codec.h"
#include "hymba/v1/hymba.grpc.pb.h"
#include "scheduler/engine_loop.h"
#include "server/call_log.h"
#include "server/generation.h"
#include "server/metrics.h"
#include "server/request_builder.h"

namespace hymba::server {

class HymbaService final : public v1::Hymba::CallbackService {
 public:
  // Loading: calls get UNAVAILABLE until Attach. `metrics` may be null.
  explicit HymbaService(ServerMetrics* metrics = nullptr);
  // Attached at once.
  HymbaService(scheduler::EngineLoop* loop, const engine::TextCodec* codec, int max_batch_tokens);
  ~HymbaService() override;

  // Starts serving the loaded model. Call once.
  void Attach(scheduler::EngineLoop* loop, const engine::TextCodec* codec, int max_batch_tokens,
              size_t max_request_bytes = RequestBuilder::kDefaultMaxRequestBytes);
  // New calls get UNAVAILABLE from now on; calls in flight carry on.
  void StartDraining();
  // Generation calls (Generate, Complete, Chat) not yet finished.
  int in_flight() const { return in_flight_.load(); }

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* context,
                                     const v1::GenerateRequest* request,
                                     v1::GenerateResponse* response) override;
  grpc::ServerWriteReactor<v1::GenerateResponse>* Chat(grpc::CallbackServerContext* context,
                                                       const v1::ChatRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const v1::TokenizeRequest* request,
                                     v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const v1::DetokenizeRequest* request,
                                       v1::DetokenizeResponse* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

 private:
  enum class State { kLoading, kServing, kDraining };
  struct Attached;

  // OK while serving; UNAVAILABLE naming the reason otherwise.
  absl::Status Admission() const;
  // Submits a built request (its status is the call's on failure); `start`: the call's arrival.
  absl::StatusOr<std::unique_ptr<Generation>> Start(const grpc::CallbackServerContext& context,
                                                    absl::StatusOr<BuiltRequest> built,
                                                    absl::Time start);
  // Start, then a streaming reactor (or a refusal).
  grpc::ServerWriteReactor<v1::GenerateResponse>* Stream(grpc::CallbackServerContext* context,
                                                         absl::StatusOr<BuiltRequest> built,
                                                         CallLog log, absl::Time start);

  ServerMetrics* metrics_;
  std::atomic<State> state_{State::kLoading};
  std::unique_ptr<Attached> attached_;  // set once, before state_ becomes kServing
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace hymba::server
