// The hymba.v1 service over real loopback gRPC (port 0) with the real engine on a tiny
// checkpoint: streaming equals unary, errors carry the documented code and name the field,
// stop strings end the stream, model info and tokenization answer.
// The tokenizer is the checkpoint's own (native SentencePiece BPE), in the same process as gRPC.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <memory>

#include "engine/hymba_engine.h"
#include "engine/model/tokenizer.h"
#include "hymba/v1/hymba.grpc.pb.h"
#include "server/hymba_service.h"
#include "tests/testing/test_paths.h"

namespace hymba::server {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = testing::TinyModelDir("tiny-a");
    auto tokenizer = engine::Tokenizer::Load(dir);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::move(tokenizer).value();
    auto loop = scheduler::EngineLoop::Start(
        [dir]() -> absl::StatusOr<std::unique_ptr<engine::Engine>> {
          engine::EngineOptions o;
          o.model_dir = dir;
          o.backend.precision = "f32";
          o.backend.threads = 2;
          o.max_slots = 4;
          o.max_seq_len = 128;
          auto e = engine::HymbaEngine::Create(o);
          if (!e.ok()) return e.status();
          return std::unique_ptr<engine::Engine>(std::move(e).value());
        },
        [](const engine::EngineInfo& info) {
          scheduler::SchedulerOptions s;
          s.max_slots = info.max_slots;
          s.max_seq_len = info.max_seq_len;
          s.max_batch_tokens = 64;
          s.vocab_size = info.vocab_size;
          s.eos_token_id = info.eos_token_id;
          return s;
        });
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(loop).value();
    service_ = std::make_unique<HymbaService>(loop_.get(), tokenizer_.get(), 64);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Hymba::NewStub(channel_);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    loop_.reset();
  }

  v1::GenerateRequest Request(int max_tokens) {
    v1::GenerateRequest r;
    for (int id : {5, 9, 33, 71, 200, 17, 3, 99, 140}) r.mutable_prompt_tokens()->add_ids(id);
    r.set_max_tokens(max_tokens);
    r.set_ignore_eos(true);
    r.mutable_sampling()->set_temperature(0.8f);
    r.mutable_sampling()->set_seed(7);
    return r;
  }

  std::unique_ptr<engine::Tokenizer> tokenizer_;
  std::unique_ptr<scheduler::EngineLoop> loop_;
  std::unique_ptr<HymbaService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Hymba::Stub> stub_;
};

TEST_F(ServerTest, StreamingEqualsUnary) {
  grpc::ClientContext stream_ctx;
  auto reader = stub_->Generate(&stream_ctx, Request(12));
  v1::GenerateResponse part;
  std::vector<int> streamed;
  std::string text;
  v1::GenerateResponse last;
  while (reader->Read(&part)) {
    streamed.insert(streamed.end(), part.token_ids().begin(), part.token_ids().end());
    text += part.text();
    last = part;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(streamed.size(), 12u);
  EXPECT_EQ(last.finish_reason(), v1::LENGTH);
  EXPECT_EQ(last.usage().completion_tokens(), 12);
  EXPECT_EQ(last.usage().prompt_tokens(), 9);
  EXPECT_EQ(last.seed(), 7u);

  grpc::ClientContext unary_ctx;
  v1::GenerateResponse whole;
  ASSERT_TRUE(stub_->Complete(&unary_ctx, Request(12), &whole).ok());
  EXPECT_EQ(std::vector<int>(whole.token_ids().begin(), whole.token_ids().end()), streamed);
  EXPECT_EQ(whole.text(), text);
}

TEST_F(ServerTest, BadFieldsAreInvalidArgumentNamingTheField) {
  struct Case {
    v1::GenerateRequest request;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({Request(0), "max_tokens"});
  cases.push_back({Request(500), "max_tokens"});
  auto oov = Request(4);
  oov.mutable_prompt_tokens()->set_ids(1, 100000);
  cases.push_back({oov, "prompt_tokens.ids[1]"});
  auto top_p = Request(4);
  top_p.mutable_sampling()->set_top_p(1.5f);
  cases.push_back({top_p, "sampling.top_p"});
  auto stop = Request(4);
  stop.add_stop("");
  cases.push_back({stop, "stop[0]"});
  v1::GenerateRequest empty;
  empty.set_max_tokens(3);
  cases.push_back({empty, "prompt"});
  for (const Case& c : cases) {
    grpc::ClientContext ctx;
    auto reader = stub_->Generate(&ctx, c.request);
    v1::GenerateResponse r;
    EXPECT_FALSE(reader->Read(&r));
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_NE(s.error_message().find(c.field), std::string::npos) << s.error_message();
  }
  // The server still serves.
  grpc::ClientContext ctx;
  v1::GenerateResponse ok;
  EXPECT_TRUE(stub_->Complete(&ctx, Request(3), &ok).ok());
  EXPECT_EQ(ok.token_ids_size(), 3);
}

TEST_F(ServerTest, StopStringEndsTheStreamWithStopSequence) {
  grpc::ClientContext ctx;
  v1::GenerateResponse free_run;
  ASSERT_TRUE(stub_->Complete(&ctx, Request(20), &free_run).ok());
  // The stop string: the 3rd and 4th characters of the free-running text (whole UTF-8 characters).
  const std::string& t = free_run.text();
  std::vector<size_t> starts;
  for (size_t i = 0; i < t.size(); ++i)
    if ((static_cast<unsigned char>(t[i]) & 0xC0) != 0x80) starts.push_back(i);
  starts.push_back(t.size());
  ASSERT_GE(starts.size(), 5u) << t;
  const std::string stop = t.substr(starts[2], starts[4] - starts[2]);
  auto req = Request(20);
  req.add_stop(stop);
  grpc::ClientContext ctx2;
  v1::GenerateResponse stopped;
  ASSERT_TRUE(stub_->Complete(&ctx2, req, &stopped).ok());
  EXPECT_EQ(stopped.finish_reason(), v1::STOP_SEQUENCE);
  EXPECT_EQ(stopped.stop_sequence(), stop);
  EXPECT_EQ(stopped.text(), free_run.text().substr(0, free_run.text().find(stop)));
}

TEST_F(ServerTest, ClientCancellationFreesTheSlotAndOthersCarryOn) {
  // Four streams; two are cancelled after their first response.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>>> readers;
  for (int i = 0; i < 4; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(stub_->Generate(contexts.back().get(), Request(100)));
  }
  for (int i = 0; i < 4; ++i) {
    v1::GenerateResponse first;
    ASSERT_TRUE(readers[i]->Read(&first));
    if (i % 2 == 0) contexts[i]->TryCancel();
  }
  for (int i = 0; i < 4; ++i) {
    v1::GenerateResponse r;
    int tokens = 0;
    while (readers[i]->Read(&r)) tokens += r.token_ids_size();
    const grpc::Status s = readers[i]->Finish();
    if (i % 2 == 0) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED);
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }
  for (int k = 0; k < 200 && loop_->stats().free_slots != 4; ++k)
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(loop_->stats().free_slots, 4);
  EXPECT_EQ(loop_->stats().running, 0);
}

TEST_F(ServerTest, TokenizeDetokenizeAndModelInfo) {
  grpc::ClientContext ctx;
  v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.max_slots(), 4);
  EXPECT_EQ(info.max_seq_len(), 128);
  EXPECT_EQ(info.vocab_size(), 513);
  grpc::ClientContext tctx;
  v1::TokenizeRequest treq;
  treq.set_text("hello world");
  v1::TokenizeResponse tres;
  ASSERT_TRUE(stub_->Tokenize(&tctx, treq, &tres).ok());
  EXPECT_GT(tres.ids_size(), 0);
  grpc::ClientContext dctx;
  v1::DetokenizeRequest dreq;
  dreq.mutable_ids()->CopyFrom(tres.ids());
  v1::DetokenizeResponse dres;
  ASSERT_TRUE(stub_->Detokenize(&dctx, dreq, &dres).ok());
  EXPECT_EQ(dres.text(), "hello world");
}

}  // namespace
}  // namespace hymba::server
