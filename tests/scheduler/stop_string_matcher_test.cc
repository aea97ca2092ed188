#include "scheduler/stop_string_matcher.h"

#include <gtest/gtest.h>

#include <random>

namespace hymba::scheduler {
namespace {

// Feeds `text` in the given piece sizes; returns everything emitted (including Flush).
std::string Feed(StopStringMatcher& m, const std::string& text, const std::vector<int>& sizes) {
  std::string out;
  size_t pos = 0;
  for (size_t i = 0; pos < text.size(); ++i) {
    const size_t n = std::min<size_t>(sizes[i % sizes.size()], text.size() - pos);
    out += m.Push(text.substr(pos, n));
    pos += n;
  }
  return out + m.Flush();
}

TEST(StopStringMatcherTest, MatchAcrossPiecesIsCaughtAndNeverLeaks) {
  const std::string text = "Hello wor<|end|>ld and more";
  for (int piece = 1; piece <= 6; ++piece) {
    StopStringMatcher m({"<|end|>"});
    std::string emitted;
    size_t pos = 0;
    while (pos < text.size()) {
      const std::string part = m.Push(text.substr(pos, piece));
      emitted += part;
      // Nothing emitted may ever contain a stop string's first character run beyond the prefix.
      EXPECT_EQ(emitted.find("<|"), std::string::npos) << "piece " << piece;
      pos += piece;
    }
    emitted += m.Flush();
    EXPECT_TRUE(m.matched());
    EXPECT_EQ(m.matched_string(), "<|end|>");
    EXPECT_EQ(emitted, "Hello wor") << "piece " << piece;
  }
}

TEST(StopStringMatcherTest, PartialMatchIsReleasedWhenItFailsOrAtTheEnd) {
  StopStringMatcher m({"STOP"});
  EXPECT_EQ(m.Push("a ST"), "a ");
  EXPECT_EQ(m.Push("AR"), "STAR");
  EXPECT_EQ(m.Push(" ST"), " ");
  EXPECT_EQ(m.Flush(), "ST");
  EXPECT_FALSE(m.matched());
}

TEST(StopStringMatcherTest, EarliestOfSeveralStopsWins) {
  StopStringMatcher m({"cd", "bcx", "b"});
  EXPECT_EQ(Feed(m, "abcdef", {1}), "a");
  EXPECT_EQ(m.matched_string(), "b");
  StopStringMatcher n({"world", "o w"});
  EXPECT_EQ(Feed(n, "hello world", {3}), "hell");
  EXPECT_EQ(n.matched_string(), "o w");
}

TEST(StopStringMatcherTest, RandomSplitsAgreeWithWholeText) {
  std::mt19937 rng(4);
  const std::vector<std::string> stops = {"\n\n", "User:", "aab"};
  for (int trial = 0; trial < 500; ++trial) {
    std::string text;
    for (int i = 0; i < 40; ++i) text += "abU:\n se"[rng() % 8];
    if (rng() % 3 == 0) text.insert(rng() % text.size(), "User:");
    // Reference: cut at the earliest occurrence of any stop string.
    size_t cut = std::string::npos;
    for (const auto& s : stops) cut = std::min(cut, text.find(s));
    const std::string expect = cut == std::string::npos ? text : text.substr(0, cut);
    StopStringMatcher m(stops);
    EXPECT_EQ(Feed(m, text, {1 + static_cast<int>(rng() % 4), 1, 3}), expect) << text;
    EXPECT_EQ(m.matched(), cut != std::string::npos);
  }
}

TEST(StopStringMatcherTest, ValidationNamesTheField) {
  EXPECT_NE(StopStringMatcher::Validate({"ok", ""}).message().find("stop[1]"),
            absl::string_view::npos);
  EXPECT_FALSE(StopStringMatcher::Validate({std::string(300, 'x')}).ok());
  EXPECT_FALSE(StopStringMatcher::Validate(std::vector<std::string>(17, "x")).ok());
  EXPECT_TRUE(StopStringMatcher::Validate({"a", "bc"}).ok());
}

}  // namespace
}  // namespace hymba::scheduler
