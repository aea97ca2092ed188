// The hymba.v1 service over real loopback gRPC (port 0) with the real engine on a tiny
// checkpoint: streaming equals unary, errors carry the documented code and name the field,
// stop strings end the stream, model info and tokenization answer.
// The tokenizer is the checkpoint's own (native SentencePiece BPE), in the same process as gRPC.
#include <gtest/gtest.h>

#include <memory>

#include "tests/server/server_fixture.h"

namespace hymba::server {
namespace {

class ServerTest : public ServerFixture {
 protected:
  void SetUp() override { Start(); }
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
  auto many_stops = Request(4);
  for (int i = 0; i < 17; ++i) many_stops.add_stop("s" + std::to_string(i));
  cases.push_back({many_stops, "stop"});
  auto long_stop = Request(4);
  long_stop.add_stop(std::string(300, 'x'));
  cases.push_back({long_stop, "stop[0]"});
  auto stop_id = Request(4);
  stop_id.add_stop_token_ids(-1);
  cases.push_back({stop_id, "stop_token_ids[0]"});
  auto temperature = Request(4);
  temperature.mutable_sampling()->set_temperature(-1.0f);
  cases.push_back({temperature, "sampling.temperature"});
  auto top_logprobs = Request(4);
  top_logprobs.set_top_logprobs(21);
  cases.push_back({top_logprobs, "top_logprobs"});
  auto bias = Request(4);
  (*bias.mutable_sampling()->mutable_logit_bias())[100000] = 1.0f;
  cases.push_back({bias, "logit_bias"});

  // A stream runs while the bad requests come and go; it ends exactly as it would alone.
  const Streamed alone = Stream(Request(60, 3));
  grpc::ClientContext running_ctx;
  auto running = stub_->Generate(&running_ctx, Request(60, 3));
  for (const Case& c : cases) {
    grpc::ClientContext ctx;
    auto reader = stub_->Generate(&ctx, c.request);
    v1::GenerateResponse r;
    EXPECT_FALSE(reader->Read(&r));
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_NE(s.error_message().find(c.field), std::string::npos) << s.error_message();
  }
  std::vector<int> tokens;
  v1::GenerateResponse part;
  while (running->Read(&part))
    tokens.insert(tokens.end(), part.token_ids().begin(), part.token_ids().end());
  EXPECT_TRUE(running->Finish().ok());
  EXPECT_EQ(tokens, alone.tokens);
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
  for (int k = 0; k < 200 && server_->loop()->stats().free_slots != 4; ++k)
    absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(server_->loop()->stats().free_slots, 4);
  EXPECT_EQ(server_->loop()->stats().running, 0);
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

TEST_F(ServerTest, ChatEqualsGenerateOnTheRenderedConversation) {
  v1::ChatRequest chat;
  auto* system = chat.add_messages();
  system->set_role("system");
  system->set_content("Be brief.");
  auto* user = chat.add_messages();
  user->set_role("user");
  user->set_content("hello world");
  *chat.mutable_options() = Request(10);
  chat.mutable_options()->clear_prompt_tokens();

  grpc::ClientContext ctx;
  auto reader = stub_->Chat(&ctx, chat);
  std::vector<int> chat_tokens;
  std::string chat_text;
  v1::GenerateResponse part, last;
  while (reader->Read(&part)) {
    chat_tokens.insert(chat_tokens.end(), part.token_ids().begin(), part.token_ids().end());
    chat_text += part.text();
    last = part;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(chat_tokens.size(), 10u);

  // The same conversation by hand: the template's text, tokenized without BOS.
  grpc::ClientContext tctx;
  v1::TokenizeRequest treq;
  treq.set_text(
      "<extra_id_0>System\nBe brief.\n\n<extra_id_1>User\nhello world\n"
      "<extra_id_1>Assistant\n");
  treq.set_add_special_tokens(false);
  v1::TokenizeResponse tres;
  ASSERT_TRUE(stub_->Tokenize(&tctx, treq, &tres).ok());
  EXPECT_EQ(last.usage().prompt_tokens(), tres.ids_size());
  auto generate = Request(10);
  generate.mutable_prompt_tokens()->mutable_ids()->CopyFrom(tres.ids());
  const Streamed direct = Stream(generate);
  ASSERT_TRUE(direct.status.ok());
  EXPECT_EQ(chat_tokens, direct.tokens);
  EXPECT_EQ(chat_text, direct.text);
}

TEST_F(ServerTest, BadChatFieldsAreInvalidArgumentNamingTheField) {
  struct Case {
    v1::ChatRequest request;
    std::string field;
  };
  v1::ChatRequest good;
  auto* m = good.add_messages();
  m->set_role("user");
  m->set_content("hi");
  good.mutable_options()->set_max_tokens(4);
  std::vector<Case> cases;
  v1::ChatRequest no_messages = good;
  no_messages.clear_messages();
  cases.push_back({no_messages, "messages"});
  v1::ChatRequest no_role = good;
  no_role.mutable_messages(0)->clear_role();
  cases.push_back({no_role, "messages[0].role"});
  v1::ChatRequest with_prompt = good;
  with_prompt.mutable_options()->set_prompt("x");
  cases.push_back({with_prompt, "options.prompt"});
  v1::ChatRequest no_tokens = good;
  no_tokens.mutable_options()->set_max_tokens(0);
  cases.push_back({no_tokens, "options.max_tokens"});
  for (const Case& c : cases) {
    grpc::ClientContext ctx;
    auto reader = stub_->Chat(&ctx, c.request);
    v1::GenerateResponse r;
    EXPECT_FALSE(reader->Read(&r));
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_NE(s.error_message().find(c.field), std::string::npos) << s.error_message();
  }
}

TEST_F(ServerTest, OversizeRequestIsInvalidArgumentNamingTheRequest) {
  v1::GenerateRequest big;
  big.set_prompt(std::string(RequestBuilder::kDefaultMaxRequestBytes + 10, 'a'));
  big.set_max_tokens(1);
  const Streamed out = Stream(big);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(out.status.error_message().find("request"), std::string::npos)
      << out.status.error_message();
  EXPECT_TRUE(Stream(Request(2)).status.ok());
}

}  // namespace
}  // namespace hymba::server
