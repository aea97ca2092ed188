// LoadReport: what `hymba loadgen` prints: counts, throughput and latency summaries of a
// LoadResult, as readable text and as JSON.
//
// Throughput divides the successful calls' requests and tokens by the run's wall time; latency
// summaries cover successful calls only, in milliseconds.
// Thread safety: plain data and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tools/hymba/latency_summary.h"
#include "tools/hymba/load_generator.h"

namespace hymba::tools {

struct LoadReport {
  int ok = 0;
  int failed = 0;
  std::map<std::string, int> failures;             // gRPC code name, e.g. "UNAVAILABLE" -> calls
  std::map<std::string, std::string> first_error;  // gRPC code name -> the first message seen
  double duration_s = 0;
  int64_t prompt_tokens = 0;  // successful calls only, as are the output tokens
  int64_t output_tokens = 0;
  double requests_per_s = 0, prompt_tokens_per_s = 0, output_tokens_per_s = 0;
  LatencySummary ttft_ms, itl_ms, e2e_ms;
};

// What the report says about the run's setup besides the measurements.
struct LoadHeader {
  std::string address;
  std::string model;
  LoadPlan plan;
};

LoadReport BuildReport(const LoadResult& result);

// E.g. "DEADLINE_EXCEEDED x2, UNAVAILABLE x1"; empty when nothing failed.
std::string FailureList(const LoadReport& report);

std::string ReportText(const LoadHeader& header, const LoadReport& report);
std::string ReportJson(const LoadHeader& header, const LoadReport& report);

}  // namespace hymba::tools
