// LatencySummary: mean, percentiles and maximum of a set of latencies, as the load tools report
// them. Percentiles interpolate linearly between the two nearest ranks (numpy's default), so
// p50 of {1, 2} is 1.5.
//
// Thread safety: plain data and pure functions.
#pragma once

#include <vector>

namespace hymba::tools {

struct LatencySummary {
  int count = 0;  // 0: every other field is 0
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// REQUIRES: `sorted` ascending and non-empty; 0 <= q <= 1.
double Percentile(const std::vector<double>& sorted, double q);

LatencySummary Summarize(std::vector<double> values);

}  // namespace hymba::tools
