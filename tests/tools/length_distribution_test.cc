// LengthDistribution: the three text forms, their ranges, determinism, and malformed text.
#include "tools/hymba/length_distribution.h"

#include <gtest/gtest.h>

#include <set>

namespace hymba::tools {
namespace {

TEST(LengthDistributionTest, FixedAlwaysGivesItsCount) {
  auto d = LengthDistribution::Parse("128");
  ASSERT_TRUE(d.ok()) << d.status();
  std::mt19937_64 rng(1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d->Sample(rng), 128);
  EXPECT_EQ(d->ToString(), "128");
  EXPECT_EQ(d->mean(), 128);
}

TEST(LengthDistributionTest, UniformCoversBothEndsAndNothingElse) {
  auto d = LengthDistribution::Parse("3:6");
  ASSERT_TRUE(d.ok()) << d.status();
  std::mt19937_64 rng(2);
  std::set<int> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(d->Sample(rng));
  EXPECT_EQ(seen, (std::set<int>{3, 4, 5, 6}));
  EXPECT_EQ(d->ToString(), "3:6");
  EXPECT_EQ(d->mean(), 4.5);
}

TEST(LengthDistributionTest, NormalIsCentredAndClippedToOne) {
  auto d = LengthDistribution::Parse("normal:128,32");
  ASSERT_TRUE(d.ok()) << d.status();
  std::mt19937_64 rng(3);
  double sum = 0;
  constexpr int kDraws = 20000;
  for (int i = 0; i < kDraws; ++i) sum += d->Sample(rng);
  EXPECT_NEAR(sum / kDraws, 128.0, 1.5);
  EXPECT_EQ(d->ToString(), "normal:128,32");

  auto wide = LengthDistribution::Parse("normal:2,50");
  ASSERT_TRUE(wide.ok()) << wide.status();
  for (int i = 0; i < 1000; ++i) EXPECT_GE(wide->Sample(rng), 1);

  auto exact = LengthDistribution::Parse("normal:7,0");
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->Sample(rng), 7);
}

TEST(LengthDistributionTest, SameRngStateGivesSameCounts) {
  auto d = LengthDistribution::Parse("1:1000");
  ASSERT_TRUE(d.ok());
  std::mt19937_64 a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(d->Sample(a), d->Sample(b));
}

TEST(LengthDistributionTest, RejectsMalformedText) {
  for (const char* text : {"", "0", "-5", "abc", "12x", "8:4", "0:4", "1:2:3", "normal:",
                           "normal:5", "normal:a,b", "normal:0,1", "normal:5,-1", "uniform:1,2"}) {
    auto d = LengthDistribution::Parse(text);
    ASSERT_FALSE(d.ok()) << "'" << text << "' parsed";
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace hymba::tools
