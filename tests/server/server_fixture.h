// ServerFixture: a whole HymbaServer (hymba.v1, health, reflection, metrics) on loopback port 0
// with the real CPU engine on the tiny-a checkpoint (f32, 2 threads), and a client stub.
//
// Thread safety: gtest fixture; the client helpers are thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/hymba_engine.h"
#include "engine/model/tokenizer.h"
#include "hymba/v1/hymba.grpc.pb.h"
#include "server/hymba_server.h"
#include "tests/testing/test_paths.h"

namespace hymba::server {

struct FixtureOptions {
  int max_slots = 4;
  int max_seq_len = 128;
  int max_batch_tokens = 64;
  int max_queue = 256;
  bool load = true;  // false: Listen only (health NOT_SERVING, model not loaded)
};

class ServerFixture : public ::testing::Test {
 protected:
  void TearDown() override { server_.reset(); }

  void Start(const FixtureOptions& o = {}) {
    options_ = o;
    ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.metrics_port = 0;
    auto server = HymbaServer::Listen(so);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Hymba::NewStub(channel_);
    if (o.load) Load();
  }

  void Load() {
    const std::string dir = testing::TinyModelDir("tiny-a");
    const FixtureOptions o = options_;
    ModelSource source;
    source.make_codec = [dir]() -> absl::StatusOr<std::unique_ptr<engine::TextCodec>> {
      auto t = engine::Tokenizer::Load(dir);
      if (!t.ok()) return t.status();
      return std::unique_ptr<engine::TextCodec>(std::move(t).value());
    };
    source.make_engine = [dir, o]() -> absl::StatusOr<std::unique_ptr<engine::Engine>> {
      engine::EngineOptions eo;
      eo.model_dir = dir;
      eo.backend.precision = "f32";
      eo.backend.threads = 2;
      eo.max_slots = o.max_slots;
      eo.max_seq_len = o.max_seq_len;
      auto e = engine::HymbaEngine::Create(eo);
      if (!e.ok()) return e.status();
      return std::unique_ptr<engine::Engine>(std::move(e).value());
    };
    source.scheduler.max_batch_tokens = o.max_batch_tokens;
    source.scheduler.max_queue = o.max_queue;
    ASSERT_TRUE(server_->Load(std::move(source)).ok());
  }

  // A seeded sampling request over a fixed 9-token prompt.
  static v1::GenerateRequest Request(int max_tokens, uint64_t seed = 7) {
    v1::GenerateRequest r;
    for (int id : {5, 9, 33, 71, 200, 17, 3, 99, 140}) r.mutable_prompt_tokens()->add_ids(id);
    r.set_max_tokens(max_tokens);
    r.set_ignore_eos(true);
    r.mutable_sampling()->set_temperature(0.8f);
    r.mutable_sampling()->set_seed(seed);
    return r;
  }

  // The whole stream of one Generate call: tokens, text, last response and status.
  struct Streamed {
    std::vector<int> tokens;
    std::string text;
    v1::GenerateResponse last;
    grpc::Status status;
  };
  Streamed Stream(const v1::GenerateRequest& request) {
    grpc::ClientContext ctx;
    auto reader = stub_->Generate(&ctx, request);
    Streamed out;
    v1::GenerateResponse part;
    while (reader->Read(&part)) {
      out.tokens.insert(out.tokens.end(), part.token_ids().begin(), part.token_ids().end());
      out.text += part.text();
      out.last = part;
    }
    out.status = reader->Finish();
    return out;
  }

  // The metrics exposition text.
  std::string Scrape();
  // One sample's value from Scrape() text (e.g. "hymba_slots_in_use"); -1 when absent.
  static double Sample(const std::string& exposition, const std::string& series);

  FixtureOptions options_;
  std::unique_ptr<HymbaServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Hymba::Stub> stub_;
};

}  // namespace hymba::server
