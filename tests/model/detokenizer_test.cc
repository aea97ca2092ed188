#include "engine/model/detokenizer.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace hymba::engine {
namespace {

constexpr char kReplacement[] = "\xef\xbf\xbd";  // U+FFFD
constexpr int kBytePiece = 3;                    // <0x00> in the test tokenizer; <0xNN> is 3 + NN

// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool IsValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    const int n = b < 0x80             ? 1
                  : (b & 0xe0) == 0xc0 ? 2
                  : (b & 0xf0) == 0xe0 ? 3
                  : (b & 0xf8) == 0xf0 ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? b : b & (0xff >> (n + 1));
    for (int k = 1; k < n; ++k) {
      const auto t = static_cast<uint8_t>(s[i + k]);
      if ((t & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (t & 0x3f);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return false;
    i += n;
  }
  return true;
}

std::string AppendUtf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) return std::string(1, static_cast<char>(cp));
  const int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  out.push_back(static_cast<char>((0xf00 >> n) | (cp >> (6 * (n - 1)))));
  for (int k = n - 2; k >= 0; --k)
    out.push_back(static_cast<char>(0x80 | ((cp >> (6 * k)) & 0x3f)));
  return out;
}

class DetokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Tokenizer>> loaded =
        Tokenizer::Load(hymba::testing::SourceDir() + "/tests/testing/data/tokenizer");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *std::move(loaded);
  }

  // Streams `ids`, checking that every delta is valid UTF-8; returns all deltas concatenated.
  std::string Stream(const std::vector<int>& ids, bool strip_leading_space = true) {
    IncrementalDetokenizer detokenizer(*tokenizer_, strip_leading_space);
    std::string text;
    for (const int id : ids) {
      const std::string delta = detokenizer.Push(id);
      EXPECT_TRUE(IsValidUtf8(delta)) << "after id " << id;
      text += delta;
    }
    const std::string rest = detokenizer.Flush();
    EXPECT_TRUE(IsValidUtf8(rest));
    EXPECT_EQ(detokenizer.pending_bytes(), 0u);
    return text + rest;
  }

  std::vector<int> Encode(const std::string& text) { return *tokenizer_->Encode(text, false); }

  std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(DetokenizerTest, RandomIdSequencesMatchDecode) {
  std::mt19937 rng(1234);
  // Ids past the vocabulary (-2, vocab_size, vocab_size + 1) must be ignored like specials.
  std::uniform_int_distribution<int> any_id(-2, tokenizer_->vocab_size() + 1);
  std::uniform_int_distribution<int> length(0, 40);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<int> ids(length(rng));
    for (int& id : ids) id = any_id(rng);
    ASSERT_EQ(Stream(ids), tokenizer_->Decode(ids)) << "trial " << trial;
  }
}

TEST_F(DetokenizerTest, RandomSequencesOverInterestingIdsMatchDecode) {
  // Few ids, so that lone "▁" pieces, specials, added tokens and partial characters meet often.
  const std::vector<int> pool = {347 /* ▁ */,
                                 262 /* ▁the */,
                                 356 /* i */,
                                 1,
                                 2,
                                 400 /* [PAD] */,
                                 401 /* <tool_call> */,
                                 kBytePiece + 0xe4,
                                 kBytePiece + 0xb8,
                                 kBytePiece + 0xad,
                                 kBytePiece + 0x41,
                                 kBytePiece + 0xf0,
                                 kBytePiece + 0x9f,
                                 kBytePiece + 0x99,
                                 kBytePiece + 0x82,
                                 kBytePiece + 0x80,
                                 kBytePiece + 0xc3,
                                 kBytePiece + 0x20};
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_int_distribution<int> length(0, 12);
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<int> ids(length(rng));
    for (int& id : ids) id = pool[pick(rng)];
    ASSERT_EQ(Stream(ids), tokenizer_->Decode(ids)) << "trial " << trial;
  }
}

TEST_F(DetokenizerTest, RandomByteSequencesMatchDecode) {
  // Mostly byte-fallback pieces: valid characters of every length, stray bytes, specials and text
  // pieces cutting through them.
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> choice(0, 9);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<uint32_t> code_point(0x80, 0x10ffff);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<int> ids;
    for (int k = 0; k < 12; ++k) {
      const int c = choice(rng);
      if (c < 5) {
        uint32_t cp = code_point(rng);
        if (cp >= 0xd800 && cp < 0xe000) cp = 0x4e2d;
        for (const char b : AppendUtf8(cp)) ids.push_back(kBytePiece + static_cast<uint8_t>(b));
      } else if (c < 8) {
        ids.push_back(kBytePiece + byte(rng));
      } else if (c == 8) {
        ids.push_back(tokenizer_->eos_id());
      } else {
        ids.push_back(262);  // "▁the"
      }
    }
    ASSERT_EQ(Stream(ids), tokenizer_->Decode(ids)) << "trial " << trial;
  }
}

TEST_F(DetokenizerTest, EncodedTextStreamsBackExactly) {
  for (const std::string text :
       {"Hello world!", "  leading spaces", "emoji 🙂🚀 and CJK 你好世界", "🙂", "中",
        "accents: café, naïve", "x\n\ny\tz", "mixed 🙂x中y", " the the"}) {
    const std::vector<int> ids = Encode(text);
    EXPECT_EQ(Stream(ids), text);
    EXPECT_EQ(Stream(ids), tokenizer_->Decode(ids));
  }
}

TEST_F(DetokenizerTest, HoldsBytesUntilACharacterCompletes) {
  IncrementalDetokenizer detokenizer(*tokenizer_, true);
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0xe4), "");
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0xb8), "");
  EXPECT_EQ(detokenizer.pending_bytes(), 2u);
  EXPECT_EQ(detokenizer.Push(tokenizer_->eos_id()), "");  // specials do not cut the sequence
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0xad), "中");
  EXPECT_EQ(detokenizer.pending_bytes(), 0u);
  EXPECT_EQ(detokenizer.Flush(), "");
}

TEST_F(DetokenizerTest, ReplacesBytesAsSoonAsTheyCannotComplete) {
  IncrementalDetokenizer detokenizer(*tokenizer_, true);
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0xe4), "");
  EXPECT_EQ(detokenizer.Push(kBytePiece + 'A'), std::string(kReplacement) + "A");
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0xf5), kReplacement);  // never a lead byte
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0xe0), "");
  // E0 needs A0..BF next (anything lower is an overlong form); both bytes become U+FFFD.
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0x80), std::string(kReplacement) + kReplacement);
}

TEST_F(DetokenizerTest, FlushReplacesAnIncompleteCharacter) {
  IncrementalDetokenizer detokenizer(*tokenizer_, true);
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0xf0), "");
  EXPECT_EQ(detokenizer.Push(kBytePiece + 0x9f), "");
  EXPECT_EQ(detokenizer.Flush(), std::string(kReplacement) + kReplacement);
}

TEST_F(DetokenizerTest, TextPieceEndsAByteSequence) {
  const std::vector<int> ids = {kBytePiece + 0xe4, kBytePiece + 0xb8, 262, kBytePiece + 0xad};
  EXPECT_EQ(Stream(ids), std::string(kReplacement) + kReplacement + " the" + kReplacement);
  EXPECT_EQ(Stream(ids), tokenizer_->Decode(ids));
}

TEST_F(DetokenizerTest, LeadingSpaceRule) {
  const int the = 262;  // "▁the"
  EXPECT_EQ(Stream({the, the}), "the the");
  EXPECT_EQ(Stream({tokenizer_->bos_id(), the}), "the");
  EXPECT_EQ(Stream({the, the}, /*strip_leading_space=*/false), " the the");
  // Only the first piece loses its space, even when it is a lone "▁".
  const int space = Encode(" the")[0];  // "▁"
  EXPECT_EQ(Stream({space, the}), " the");
  EXPECT_EQ(Stream({kBytePiece + 'A', the}), "A the");
}

TEST_F(DetokenizerTest, AddedTokenRestartsTheLeadingSpaceRule) {
  const std::vector<int> ids = {262, 401, 262};  // "▁the", "<tool_call>", "▁the"
  EXPECT_EQ(Stream(ids), "the<tool_call>the");
  EXPECT_EQ(Stream(ids), tokenizer_->Decode(ids));
  EXPECT_EQ(Stream(ids, /*strip_leading_space=*/false), " the<tool_call> the");
}

}  // namespace
}  // namespace hymba::engine
