// Summarize: mean, interpolated percentiles and maximum; empty input.
#include "tools/hymba/latency_summary.h"

#include <gtest/gtest.h>

namespace hymba::tools {
namespace {

TEST(LatencySummaryTest, InterpolatesBetweenRanksLikeNumpy) {
  // numpy.percentile([1..10], [50, 90, 99]) = 5.5, 9.1, 9.91
  LatencySummary s = Summarize({10, 1, 9, 2, 8, 3, 7, 4, 6, 5});
  EXPECT_EQ(s.count, 10);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_DOUBLE_EQ(s.p50, 5.5);
  EXPECT_DOUBLE_EQ(s.p90, 9.1);
  EXPECT_DOUBLE_EQ(s.p99, 9.91);
  EXPECT_DOUBLE_EQ(s.max, 10);
}

TEST(LatencySummaryTest, OneValueIsEveryStatistic) {
  LatencySummary s = Summarize({0.25});
  EXPECT_EQ(s.count, 1);
  EXPECT_DOUBLE_EQ(s.p50, 0.25);
  EXPECT_DOUBLE_EQ(s.p99, 0.25);
  EXPECT_DOUBLE_EQ(s.max, 0.25);
}

TEST(LatencySummaryTest, EmptyIsAllZero) {
  LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.mean, 0);
  EXPECT_EQ(s.max, 0);
}

}  // namespace
}  // namespace hymba::tools
