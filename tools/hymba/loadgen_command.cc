// hymba loadgen: load against a running hymba-server over gRPC, in the manner of vLLM's
// benchmark_serving: streaming Generate calls of random prompt token ids, closed or open loop,
// reporting throughput and client-side TTFT / inter-token / end-to-end latency.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "hymba/v1/hymba.grpc.pb.h"
#include "tools/hymba/commands.h"
#include "tools/hymba/load_generator.h"
#include "tools/hymba/loadgen_report.h"

namespace hymba::tools {
namespace {

// The load shape, stop condition and request options of LoadPlan from the command line.
absl::StatusOr<LoadPlan> PlanFromArgs(CliArgs& args) {
  LoadPlan plan;
  const bool closed = args.Has("concurrency"), open = args.Has("rate");
  if (closed && open) return absl::InvalidArgumentError("give --concurrency or --rate, not both");
  if (!open && args.Has("max-concurrency"))
    return absl::InvalidArgumentError("--max-concurrency goes with --rate");
  HY_ASSIGN_OR_RETURN(plan.rate, args.DoubleOr("rate", 0.0));
  HY_ASSIGN_OR_RETURN(plan.concurrency,
                      open ? args.IntOr("max-concurrency", 0) : args.IntOr("concurrency", 1));
  if (open && !(plan.rate > 0)) return absl::InvalidArgumentError("--rate: must be > 0");
  if (closed && plan.concurrency <= 0)
    return absl::InvalidArgumentError("--concurrency: must be > 0");
  if (args.Has("requests") && args.Has("duration-s"))
    return absl::InvalidArgumentError("give --requests or --duration-s, not both");
  HY_ASSIGN_OR_RETURN(plan.duration_s, args.DoubleOr("duration-s", 0.0));
  HY_ASSIGN_OR_RETURN(plan.requests, args.IntOr("requests", args.Has("duration-s") ? 0 : 100));
  if (args.Has("duration-s") ? !(plan.duration_s > 0) : plan.requests <= 0)
    return absl::InvalidArgumentError("--requests and --duration-s: must be > 0");
  HY_ASSIGN_OR_RETURN(plan.warmup, args.IntOr("warmup", 0));
  auto prompt_len = LengthDistribution::Parse(args.StringOr("prompt-len", "128"));
  if (!prompt_len.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--prompt-len: ", prompt_len.status().message()));
  auto output_len = LengthDistribution::Parse(args.StringOr("output-len", "128"));
  if (!output_len.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("--output-len: ", output_len.status().message()));
  plan.prompt_len = *prompt_len;
  plan.output_len = *output_len;
  HY_ASSIGN_OR_RETURN(double temperature, args.DoubleOr("temperature", 0.0));
  plan.temperature = static_cast<float>(temperature);
  HY_ASSIGN_OR_RETURN(plan.timeout_s, args.DoubleOr("timeout-s", 600.0));
  HY_ASSIGN_OR_RETURN(int seed, args.IntOr("seed", 0));
  plan.seed = static_cast<uint64_t>(seed);
  return plan;
}

absl::StatusOr<v1::ModelInfo> FetchModelInfo(v1::Hymba::StubInterface& stub,
                                             const std::string& address) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ModelInfo info;
  const grpc::Status status = stub.GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok())
    return absl::UnavailableError(absl::StrCat(address, ": GetModelInfo: ", status.error_message(),
                                               " (code ", static_cast<int>(status.error_code()),
                                               ")"));
  return info;
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("--json: cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunLoadgen(CliArgs& args) {
  LoadHeader header;
  header.address = args.StringOr("address", "localhost:50051");
  HY_ASSIGN_OR_RETURN(header.plan, PlanFromArgs(args));
  const std::string json_path = args.StringOr("json", "");
  HY_RETURN_IF_ERROR(args.Finish());

  auto stub =
      v1::Hymba::NewStub(grpc::CreateChannel(header.address, grpc::InsecureChannelCredentials()));
  HY_ASSIGN_OR_RETURN(v1::ModelInfo info, FetchModelInfo(*stub, header.address));
  header.model = absl::StrCat(info.model_name(), ", ", info.device(), " ", info.precision());
  header.plan.vocab_size = info.vocab_size();

  const LoadReport report = BuildReport(RunLoad(*stub, header.plan));
  // With the JSON on stdout, the text goes to stderr so stdout stays parseable.
  const std::string text = ReportText(header, report);
  std::fputs(text.c_str(), json_path == "-" ? stderr : stdout);
  if (json_path == "-") {
    std::fputs(ReportJson(header, report).c_str(), stdout);
  } else if (!json_path.empty()) {
    HY_RETURN_IF_ERROR(WriteFile(json_path, ReportJson(header, report)));
  }
  if (report.failed > 0)
    return absl::UnavailableError(absl::StrCat(report.failed, " of ", report.ok + report.failed,
                                               " requests failed: ", FailureList(report)));
  return absl::OkStatus();
}

}  // namespace hymba::tools
