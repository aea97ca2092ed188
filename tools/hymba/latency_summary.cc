#include "tools/hymba/latency_summary.h"

#include <algorithm>
#include <numeric>

namespace hymba::tools {

double Percentile(const std::vector<double>& sorted, double q) {
  const double rank = q * (sorted.size() - 1);
  const size_t below = static_cast<size_t>(rank);
  if (below + 1 >= sorted.size()) return sorted.back();
  return sorted[below] + (rank - below) * (sorted[below + 1] - sorted[below]);
}

LatencySummary Summarize(std::vector<double> values) {
  LatencySummary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = static_cast<int>(values.size());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  s.p50 = Percentile(values, 0.50);
  s.p90 = Percentile(values, 0.90);
  s.p99 = Percentile(values, 0.99);
  s.max = values.back();
  return s;
}

}  // namespace hymba::tools
