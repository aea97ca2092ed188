// HymbaService: the hymba.v1.Hymba gRPC service (callback API) over the engine loop.
// Generate streams with one write in flight: the request's TokenStream listener (engine thread)
// and OnWriteDone (gRPC thread) both pull what is ready and start the next write. Errors before
// the first token are the call's status; a client that goes away cancels its request, whose
// slot is freed at the next engine step.
//
// Ownership: borrows the loop and codec, which must outlive the server.
// Thread safety: thread-safe (gRPC calls it from its threads).
#pragma once

#include <atomic>

#include "engine/api/text_codec.h"
#include "hymba/v1/hymba.grpc.pb.h"
#include "scheduler/engine_loop.h"
#include "server/generation.h"
#include "server/request_builder.h"

namespace hymba::server {

class HymbaService final : public v1::Hymba::CallbackService {
 public:
  HymbaService(scheduler::EngineLoop* loop, const engine::TextCodec* codec, int max_batch_tokens);

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* context,
                                     const v1::GenerateRequest* request,
                                     v1::GenerateResponse* response) override;
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
  // Validates and submits a generation request; its status is the call's on failure.
  absl::StatusOr<std::unique_ptr<Generation>> Start(const grpc::CallbackServerContext& context,
                                                    const v1::GenerateRequest& request);

  scheduler::EngineLoop* loop_;
  const engine::TextCodec* codec_;
  RequestBuilder builder_;
  int max_batch_tokens_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace hymba::server
