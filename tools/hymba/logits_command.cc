// hymba logits: full-vocabulary logits of a token sequence as JSON (no BOS is added).
#include <cstdio>
#include <string>

#include "engine/base/status_macros.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {
namespace {

void AppendFloat(std::string* out, float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  out->append(buf);
}

}  // namespace

absl::Status RunLogits(CliArgs& args) {
  HY_ASSIGN_OR_RETURN(engine::EngineOptions options, EngineOptionsFromArgs(args, "f32", 1));
  HY_ASSIGN_OR_RETURN(std::vector<int> ids, args.IntList("tokens"));
  const bool all = args.Flag("all");
  HY_RETURN_IF_ERROR(args.Finish());
  if (options.max_seq_len == 0) options.max_seq_len = static_cast<int>(ids.size());
  HY_ASSIGN_OR_RETURN(auto eng, engine::HymbaEngine::Create(options));
  std::vector<int32_t> tokens(ids.begin(), ids.end());
  engine::BatchPlan plan;
  engine::BatchEntry entry;
  entry.slot = 0;
  entry.reset_slot = true;
  entry.tokens = tokens;
  entry.logits = all ? engine::LogitsMode::kAll : engine::LogitsMode::kLast;
  plan.entries.push_back(entry);
  HY_ASSIGN_OR_RETURN(engine::StepResult result, eng->Step(plan));
  std::string out = "{\"tokens\":[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  out += "],\"logits\":[";
  for (int r = 0; r < result.row_count[0]; ++r) {
    out += r ? ",[" : "[";
    const float* row = result.row(result.row_begin[0] + r);
    for (int v = 0; v < result.vocab_size; ++v) {
      if (v) out += ',';
      AppendFloat(&out, row[v]);
    }
    out += ']';
  }
  out += "]}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return absl::OkStatus();
}

}  // namespace hymba::tools
