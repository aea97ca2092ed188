#include "tools/hymba/loadgen_report.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hymba::tools {
namespace {

// gRPC's canonical code names are absl's ("INVALID_ARGUMENT", ...): the two share their codes.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

LatencySummary InMs(std::vector<double> seconds) {
  for (double& s : seconds) s *= 1e3;
  return Summarize(std::move(seconds));
}

std::string LoadShape(const LoadPlan& plan) {
  std::string shape =
      plan.rate > 0
          ? absl::StrFormat(
                "open loop, Poisson %.3g req/s, max concurrency %s", plan.rate,
                plan.concurrency > 0 ? std::to_string(plan.concurrency) : std::string("unlimited"))
          : absl::StrCat("closed loop, concurrency ", plan.concurrency);
  return absl::StrCat(shape, "; prompt ", plan.prompt_len.ToString(), ", output ",
                      plan.output_len.ToString(), " tokens");
}

std::string SummaryRow(const char* name, const LatencySummary& s) {
  if (s.count == 0) return absl::StrFormat("%-10s %10s\n", name, "-");
  return absl::StrFormat("%-10s %10.2f %10.2f %10.2f %10.2f %10.2f\n", name, s.mean, s.p50, s.p90,
                         s.p99, s.max);
}

nlohmann::json SummaryJson(const LatencySummary& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50},
          {"p90", s.p90},     {"p99", s.p99},   {"max", s.max}};
}

}  // namespace

LoadReport BuildReport(const LoadResult& result) {
  LoadReport report;
  std::vector<double> ttft, itl, e2e;
  for (const RequestRecord& r : result.records) {
    if (r.code != grpc::StatusCode::OK) {
      ++report.failed;
      const std::string name = CodeName(r.code);
      if (report.failures[name]++ == 0) report.first_error[name] = r.error;
      continue;
    }
    ++report.ok;
    report.prompt_tokens += r.prompt_tokens;
    report.output_tokens += r.output_tokens;
    if (r.ttft_s >= 0) ttft.push_back(r.ttft_s);
    itl.insert(itl.end(), r.itl_s.begin(), r.itl_s.end());
    e2e.push_back(r.e2e_s);
  }
  report.duration_s = result.duration_s;
  if (result.duration_s > 0) {
    report.requests_per_s = report.ok / result.duration_s;
    report.prompt_tokens_per_s = report.prompt_tokens / result.duration_s;
    report.output_tokens_per_s = report.output_tokens / result.duration_s;
  }
  report.ttft_ms = InMs(std::move(ttft));
  report.itl_ms = InMs(std::move(itl));
  report.e2e_ms = InMs(std::move(e2e));
  return report;
}

std::string FailureList(const LoadReport& report) {
  std::string out;
  for (const auto& [name, count] : report.failures)
    absl::StrAppend(&out, out.empty() ? "" : ", ", name, " x", count);
  return out;
}

std::string ReportText(const LoadHeader& header, const LoadReport& report) {
  std::string out = absl::StrFormat(
      "hymba loadgen: %s (%s)\n%s\n"
      "requests ok / failed:      %d / %d\n"
      "duration:                  %.2f s\n"
      "request throughput:        %.2f req/s\n"
      "output token throughput:   %.1f tok/s (%d tokens)\n"
      "prompt token throughput:   %.1f tok/s (%d tokens)\n"
      "%-10s %10s %10s %10s %10s %10s\n",
      header.address, header.model, LoadShape(header.plan), report.ok, report.failed,
      report.duration_s, report.requests_per_s, report.output_tokens_per_s, report.output_tokens,
      report.prompt_tokens_per_s, report.prompt_tokens, "(ms)", "mean", "p50", "p90", "p99", "max");
  absl::StrAppend(&out, SummaryRow("TTFT", report.ttft_ms), SummaryRow("ITL", report.itl_ms),
                  SummaryRow("E2E", report.e2e_ms));
  for (const auto& [name, count] : report.failures)
    absl::StrAppend(&out, "failed ", name, " x", count, ": ", report.first_error.at(name), "\n");
  return out;
}

std::string ReportJson(const LoadHeader& header, const LoadReport& report) {
  const LoadPlan& plan = header.plan;
  nlohmann::json config = {{"mode", plan.rate > 0 ? "open" : "closed"},
                           {"requests", plan.requests},
                           {"duration_s", plan.duration_s},
                           {"warmup", plan.warmup},
                           {"prompt_len", plan.prompt_len.ToString()},
                           {"output_len", plan.output_len.ToString()},
                           {"temperature", plan.temperature},
                           {"timeout_s", plan.timeout_s},
                           {"seed", plan.seed}};
  if (plan.rate > 0) {
    config["rate"] = plan.rate;
    config["max_concurrency"] = plan.concurrency > 0 ? nlohmann::json(plan.concurrency) : nullptr;
  } else {
    config["concurrency"] = plan.concurrency;
  }
  nlohmann::json json = {{"address", header.address},
                         {"model", header.model},
                         {"config", config},
                         {"requests_ok", report.ok},
                         {"requests_failed", report.failed},
                         {"failures", report.failures},
                         {"errors", report.first_error},
                         {"duration_s", report.duration_s},
                         {"prompt_tokens", report.prompt_tokens},
                         {"output_tokens", report.output_tokens},
                         {"requests_per_s", report.requests_per_s},
                         {"prompt_tokens_per_s", report.prompt_tokens_per_s},
                         {"output_tokens_per_s", report.output_tokens_per_s},
                         {"ttft_ms", SummaryJson(report.ttft_ms)},
                         {"itl_ms", SummaryJson(report.itl_ms)},
                         {"e2e_ms", SummaryJson(report.e2e_ms)}};
  return json.dump(2) + "\n";
}

}  // namespace hymba::tools
