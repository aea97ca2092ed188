#include "engine/model/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// tests/testing/data/tokenizer: a 400-piece SentencePiece BPE model with byte fallback, trained
// like Llama's on a few KB of English (sentencepiece 0.1.97: model_type=bpe, vocab_size=400,
// byte_fallback, character_coverage=1.0, normalization_rule_name=identity,
// remove_extra_whitespaces=false, split_digits, allow_whitespace_only_pieces, unk/bos/eos = 0/1/2,
// no pad), plus a tokenizer_config.json shaped like Hymba's ([PAD] right after the pieces, id 400)
// with one non-special added token "<tool_call>" (401) and the Hymba-1.5B-Instruct chat template.
std::string TestTokenizerDir() {
  return hymba::testing::SourceDir() + "/tests/testing/data/tokenizer";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A temp dir holding the test tokenizer.model and, when given, this tokenizer_config.json.
std::string DirWithConfig(const std::string& tag, const std::string* config) {
  const std::string dir = hymba::testing::MakeTempDir(tag);
  std::filesystem::copy_file(TestTokenizerDir() + "/tokenizer.model", dir + "/tokenizer.model");
  if (config != nullptr) WriteFile(dir + "/tokenizer_config.json", *config);
  return dir;
}

class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Tokenizer>> loaded = Tokenizer::Load(TestTokenizerDir());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *std::move(loaded);
  }

  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(TokenizerTest, ReadsTheConfig) {
  EXPECT_EQ(tokenizer_->vocab_size(), 402);  // 400 pieces + [PAD] + <tool_call>
  EXPECT_EQ(tokenizer_->bos_id(), 1);
  EXPECT_EQ(tokenizer_->eos_id(), 2);
  EXPECT_EQ(tokenizer_->pad_id(), 400);
  EXPECT_EQ(tokenizer_->bos_token(), "<s>");
  EXPECT_EQ(tokenizer_->eos_token(), "</s>");
  EXPECT_TRUE(tokenizer_->add_bos_token());
  EXPECT_FALSE(tokenizer_->add_eos_token());
  EXPECT_TRUE(tokenizer_->add_dummy_prefix());
  EXPECT_FALSE(tokenizer_->remove_extra_whitespaces());
  EXPECT_EQ(tokenizer_->chat_template(),
            ReadFile(hymba::testing::SourceDir() +
                     "/tests/testing/data/hymba_instruct_chat_template.jinja"));
}

TEST_F(TokenizerTest, RendersChatWithTheCheckpointTemplate) {
  auto text = tokenizer_->RenderChat({{"system", " Be brief. "}, {"user", "Hi there"}}, true);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "<extra_id_0>System\nBe brief.\n\n<extra_id_1>User\nHi there\n"
            "<extra_id_1>Assistant\n");
  auto no_prompt = tokenizer_->RenderChat({{"user", "Hi"}}, false);
  ASSERT_TRUE(no_prompt.ok()) << no_prompt.status();
  EXPECT_EQ(*no_prompt, "<extra_id_0>System\n\n<extra_id_1>User\nHi\n");
}

TEST_F(TokenizerTest, EncodeMatchesSentencePiece) {
  // Expected ids from the Python sentencepiece package on the same model.
  EXPECT_THAT(*tokenizer_->Encode("Hello world", /*add_special=*/false),
              ElementsAre(347, 384, 348, 280, 355, 266, 278, 298));
  EXPECT_THAT(*tokenizer_->Encode("Hi", /*add_special=*/true), ElementsAre(1, 347, 384, 356));
  EXPECT_THAT(*tokenizer_->Encode("", /*add_special=*/true), ElementsAre(1));
}

TEST_F(TokenizerTest, EncodeMapsSpecialAndAddedTokenStrings) {
  EXPECT_THAT(*tokenizer_->Encode("Hi</s>[PAD]", /*add_special=*/false),
              ElementsAre(347, 384, 356, 2, 400));
  EXPECT_THAT(*tokenizer_->Encode("<s>Hi<tool_call>", /*add_special=*/false),
              ElementsAre(1, 347, 384, 356, 401));
}

TEST_F(TokenizerTest, DecodeSkipsSpecialTokens) {
  std::vector<int> ids = {1};
  const std::vector<int> text = *tokenizer_->Encode("Hello world", false);
  ids.insert(ids.end(), text.begin(), text.end());
  ids.insert(ids.end(), {2, 400, 0, -5, 9999});
  EXPECT_EQ(tokenizer_->Decode(ids), "Hello world");
}

TEST_F(TokenizerTest, DecodeKeepsNonSpecialAddedTokens) {
  EXPECT_EQ(tokenizer_->Decode(*tokenizer_->Encode("Hi<tool_call> the", false)),
            "Hi<tool_call> the");
}

TEST_F(TokenizerTest, RoundTripsUtf8ThroughByteFallback) {
  for (const std::string text : {"Hello world!", "  two leading spaces and   inner ones ",
                                 "tabs\tand\nnewlines\n", "emoji 🙂🚀 and CJK 你好世界",
                                 "accents: café, naïve, Ångström", "mixed 🙂x中y"}) {
    const std::vector<int> ids = *tokenizer_->Encode(text, /*add_special=*/true);
    EXPECT_EQ(ids.front(), tokenizer_->bos_id());
    EXPECT_EQ(tokenizer_->Decode(ids), text);
  }
}

TEST_F(TokenizerTest, ClassifiesEveryId) {
  for (const int id : {0, 1, 2, 400}) EXPECT_TRUE(tokenizer_->IsSpecial(id)) << id;
  for (const int id : {3, 262, 401, -1, 402}) EXPECT_FALSE(tokenizer_->IsSpecial(id)) << id;
  const TokenPiece& byte = tokenizer_->piece(3 + 0x41);  // <0x41>
  EXPECT_EQ(byte.kind, TokenPiece::Kind::kByte);
  EXPECT_EQ(byte.byte, 0x41);
  const TokenPiece& the = tokenizer_->piece(262);  // ▁the
  EXPECT_EQ(the.kind, TokenPiece::Kind::kText);
  EXPECT_EQ(the.text, " the");
  EXPECT_TRUE(the.leading_space);
  const TokenPiece& added = tokenizer_->piece(401);
  EXPECT_EQ(added.kind, TokenPiece::Kind::kText);
  EXPECT_TRUE(added.added);
  EXPECT_EQ(added.text, "<tool_call>");
}

TEST(TokenizerLoadTest, MissingModelIsNotFound) {
  const std::string dir = hymba::testing::MakeTempDir("tok-missing");
  const absl::Status status = Tokenizer::Load(dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(dir + "/tokenizer.model"));
  std::filesystem::remove_all(dir);
}

TEST(TokenizerLoadTest, CorruptModelNamesTheFile) {
  const std::string dir = hymba::testing::MakeTempDir("tok-corrupt");
  WriteFile(dir + "/tokenizer.model", "this is not a protobuf");
  const absl::Status status = Tokenizer::Load(dir).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(dir + "/tokenizer.model"));
  std::filesystem::remove_all(dir);
}

TEST(TokenizerLoadTest, BadConfigNamesTheFile) {
  for (const std::string& config :
       {std::string("{not json"), std::string("[]"), std::string(R"({"add_bos_token": "yes"})"),
        std::string(R"({"bos_token": "<nope>"})"),
        std::string(R"({"added_tokens_decoder": {"x": {"content": "a"}}})")}) {
    const std::string dir = DirWithConfig("tok-badconfig", &config);
    const absl::Status status = Tokenizer::Load(dir).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << config;
    EXPECT_THAT(status.message(), HasSubstr("tokenizer_config.json")) << config;
    std::filesystem::remove_all(dir);
  }
}

TEST(TokenizerLoadTest, WorksWithoutConfig) {
  const std::string dir = DirWithConfig("tok-noconfig", nullptr);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 400);
  EXPECT_EQ((*tokenizer)->bos_id(), 1);
  EXPECT_EQ((*tokenizer)->eos_id(), 2);
  EXPECT_EQ((*tokenizer)->pad_id(), -1);
  EXPECT_TRUE((*tokenizer)->add_bos_token());
  EXPECT_TRUE((*tokenizer)->chat_template().empty());
  EXPECT_EQ((*tokenizer)->RenderChat({{"user", "Hi"}}, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(*(*tokenizer)->Encode("Hi", true), ElementsAre(1, 347, 384, 356));
  std::filesystem::remove_all(dir);
}

TEST(TokenizerLoadTest, ReadsChatTemplateFileAndTokenObjects) {
  const std::string config =
      R"({"add_bos_token": false, "add_eos_token": true,
          "bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>"})";
  const std::string dir = DirWithConfig("tok-jinja", &config);
  WriteFile(dir + "/chat_template.jinja", "{{ messages[0]['content'] }}");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->chat_template(), "{{ messages[0]['content'] }}");
  EXPECT_EQ(*(*tokenizer)->RenderChat({{"user", "Hi"}}, true), "Hi");
  EXPECT_THAT(*(*tokenizer)->Encode("Hi", true), ElementsAre(347, 384, 356, 2));
  std::filesystem::remove_all(dir);
}

TEST(TokenizerTinyCheckpointTest, LoadsTheBuildsTinyModel) {
  const std::string dir = hymba::testing::TinyModelDir("tiny-a");
  if (!std::filesystem::exists(dir + "/tokenizer.model")) {
    GTEST_SKIP() << dir << "/tokenizer.model is not there (tools/make_checkpoint.py writes it)";
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::Load(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string text = "Hello world, 你好 🙂";
  EXPECT_EQ((*tokenizer)->Decode(*(*tokenizer)->Encode(text, true)), text);
}

}  // namespace
}  // namespace hymba::engine
