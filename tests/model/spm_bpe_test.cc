// The native SentencePiece BPE (SpmBpe) against libsentencepiece on the same tokenizer.model
// files: identical ids for many texts (ASCII, accents, CJK, emoji through byte fallback, runs of
// spaces) and identical decoding of random id sequences.
#include "engine/model/spm_bpe.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "tests/testing/sentencepiece_model.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

// Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool ValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    int n = c < 0x80                   ? 1
            : (c >= 0xC2 && c <= 0xDF) ? 2
            : (c >= 0xE0 && c <= 0xEF) ? 3
            : (c >= 0xF0 && c <= 0xF4) ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) {
      const unsigned char d = s[i + k];
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += n;
  }
  return true;
}

std::vector<std::string> Texts() {
  std::vector<std::string> texts = {"Hello world",
                                    " leading space",
                                    "trailing space ",
                                    "two  spaces",
                                    "   ",
                                    "",
                                    "café naïve résumé",
                                    "日本語のテキスト",
                                    "emoji 😀🚀 mixed",
                                    "tab\there",
                                    "new\nline",
                                    "Numbers 1234567 and 3.14159",
                                    "<s> not special </s>",
                                    "a",
                                    "▁already escaped",
                                    "MiXeD CaSe WoRdS!!!",
                                    "ünïcödé ßtraße",
                                    "Привет мир",
                                    "한국어 문장",
                                    "x\xe2\x96\x81y"};
  std::ifstream corpus(testing::SourceDir() + "/tools/data/tokenizer_corpus.txt");
  std::string line;
  while (std::getline(corpus, line)) texts.push_back(line);
  std::mt19937 rng(5);
  const std::vector<std::string> atoms = {"a", "b", "th", "e",   " ", "  ", "é", "語",
                                          "😀", ".", "\n", "ing", "0", "Z",  "ö", "—"};
  for (int i = 0; i < 300; ++i) {
    std::string t;
    for (int k = rng() % 12; k >= 0; --k) t += atoms[rng() % atoms.size()];
    texts.push_back(t);
  }
  return texts;
}

void ExpectSameAsLibsentencepiece(const std::string& path) {
  std::string error;
  auto reference = SentencePieceModel::Load(path, &error);
  ASSERT_NE(reference, nullptr) << error;
  auto native = SpmBpe::Load(path);
  ASSERT_TRUE(native.ok()) << native.status();
  const SpmBpe& bpe = **native;
  ASSERT_EQ(bpe.piece_size(), reference->piece_size());
  for (const std::string& text : Texts()) {
    std::vector<int> want, got;
    ASSERT_TRUE(reference->Encode(text, &want, &error)) << error;
    bpe.Encode(text, &got);
    EXPECT_EQ(got, want) << "text: '" << text << "'";
  }
  std::mt19937 rng(11);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<int> ids;
    for (int k = rng() % 10; k >= 0; --k) ids.push_back(rng() % bpe.piece_size());
    const std::string got = bpe.Decode(ids), want = reference->Decode(ids);
    EXPECT_TRUE(ValidUtf8(got)) << "trial " << trial;
    // libsentencepiece passes overlong byte sequences (C0/C1 leads) through; ours replaces
    // every invalid byte with U+FFFD. Elsewhere the two must agree exactly.
    if (ValidUtf8(want)) EXPECT_EQ(got, want) << "trial " << trial;
  }
}

TEST(SpmBpeTest, MatchesLibsentencepieceOnTheTinyCheckpointTokenizer) {
  ExpectSameAsLibsentencepiece(testing::TinyModelDir("tiny-a") + "/tokenizer.model");
}

TEST(SpmBpeTest, MatchesLibsentencepieceOnTheTestDataTokenizer) {
  ExpectSameAsLibsentencepiece(testing::SourceDir() +
                               "/tests/testing/data/tokenizer/tokenizer.model");
}

TEST(SpmBpeTest, RefusesWhatItDoesNotImplement) {
  EXPECT_EQ(SpmBpe::Load("/nonexistent/tokenizer.model").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(SpmBpe::Parse(std::string("\x0a\x02\x0a\x00", 4), "t.model").ok());  // no BPE
  EXPECT_FALSE(SpmBpe::Parse(std::string("\xff\xff", 2), "t.model").ok());          // garbage
}

}  // namespace
}  // namespace hymba::engine
