// hymba bench: prefill and decode throughput of the engine on random tokens, as JSON.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/base/status_macros.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {
namespace {

double PeakRssMiB() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

absl::Status RunBench(CliArgs& args) {
  if (args.Has("context")) {
    HY_ASSIGN_OR_RETURN(std::vector<int> batches, args.IntList("batch"));
    HY_ASSIGN_OR_RETURN(std::vector<int> contexts, args.IntList("context"));
    HY_ASSIGN_OR_RETURN(engine::EngineOptions options, EngineOptionsFromArgs(args, "auto", 1));
    HY_ASSIGN_OR_RETURN(int gen_len, args.IntOr("gen-len", 32));
    HY_ASSIGN_OR_RETURN(int prefill_seqs, args.IntOr("prefill-seqs", 1 << 30));
    HY_ASSIGN_OR_RETURN(int prefill_chunk, args.IntOr("prefill-chunk", 8192));
    HY_ASSIGN_OR_RETURN(int seed, args.IntOr("seed", 0));
    HY_RETURN_IF_ERROR(args.Finish());
    return RunContextBench(options, batches, contexts, gen_len, prefill_seqs, prefill_chunk, seed);
  }
  HY_ASSIGN_OR_RETURN(int batch, args.IntOr("batch", 1));
  HY_ASSIGN_OR_RETURN(engine::EngineOptions options, EngineOptionsFromArgs(args, "auto", batch));
  HY_ASSIGN_OR_RETURN(int prompt_len, args.IntOr("prompt-len", 128));
  HY_ASSIGN_OR_RETURN(int gen_len, args.IntOr("gen-len", 128));
  HY_ASSIGN_OR_RETURN(int seed, args.IntOr("seed", 0));
  HY_ASSIGN_OR_RETURN(int requests, args.IntOr("requests", 0));
  HY_ASSIGN_OR_RETURN(int concurrency, args.IntOr("concurrency", 1));
  HY_RETURN_IF_ERROR(args.Finish());
  if (requests > 0) {
    if (concurrency <= 0) return absl::InvalidArgumentError("--concurrency: must be > 0");
    options.max_slots = concurrency;
    if (options.max_seq_len == 0) options.max_seq_len = prompt_len + gen_len + 1;
    return RunServingBench(options, requests, concurrency, prompt_len, gen_len, seed);
  }
  if (batch <= 0 || prompt_len <= 0 || gen_len < 0)
    return absl::InvalidArgumentError("--batch and --prompt-len must be > 0, --gen-len >= 0");
  options.max_slots = batch;
  if (options.max_seq_len == 0) options.max_seq_len = prompt_len + gen_len + 1;
  const double load_start = NowSeconds();
  HY_ASSIGN_OR_RETURN(auto eng, engine::HymbaEngine::Create(options));
  const double load_s = NowSeconds() - load_start;
  const int vocab = eng->info().vocab_size;

  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> token(3, vocab - 1);
  std::vector<std::vector<int32_t>> prompts(batch, std::vector<int32_t>(prompt_len));
  for (auto& p : prompts)
    for (auto& t : p) t = token(rng);

  // Prefill: every sequence's whole prompt in one step.
  engine::BatchPlan plan;
  for (int b = 0; b < batch; ++b) {
    engine::BatchEntry e;
    e.slot = b;
    e.reset_slot = true;
    e.tokens = prompts[b];
    plan.entries.push_back(e);
  }
  const double prefill_start = NowSeconds();
  HY_ASSIGN_OR_RETURN(engine::StepResult result, eng->Step(plan));
  const double prefill_s = NowSeconds() - prefill_start;

  // Decode: `gen_len` steps of one token per sequence (greedy, so the work is real).
  std::vector<int32_t> next(batch);
  const double decode_start = NowSeconds();
  for (int step = 0; step < gen_len; ++step) {
    for (int b = 0; b < batch; ++b) {
      const float* row = result.last_row(b);
      next[b] = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
    }
    plan.entries.clear();
    for (int b = 0; b < batch; ++b) {
      engine::BatchEntry e;
      e.slot = b;
      e.start_pos = eng->SlotLength(b);
      e.tokens = absl::Span<const int32_t>(&next[b], 1);
      plan.entries.push_back(e);
    }
    HY_ASSIGN_OR_RETURN(result, eng->Step(plan));
  }
  const double decode_s = NowSeconds() - decode_start;
  const engine::EngineInfo& info = eng->info();
  std::printf(
      "{\"model\":\"%s\",\"device\":\"%s\",\"precision\":\"%s\",\"prefill_gemm\":\"%s\","
      "\"threads\":%d,\"batch\":%d,"
      "\"prompt_len\":%d,\"gen_len\":%d,\"load_s\":%.3f,\"prefill_s\":%.4f,"
      "\"prefill_tok_s\":%.2f,\"decode_s\":%.4f,\"decode_tok_s\":%.2f,"
      "\"decode_step_ms\":%.3f,\"weight_mib\":%.1f,\"streamed_weight_mib\":%.1f,\"state_mib_per_"
      "slot\":%.3f,"
      "\"peak_rss_mib\":%.1f}\n",
      info.model_name.c_str(), info.device.c_str(), info.precision.c_str(),
      options.backend.prefill_gemm_fp16 ? "fp16" : "default", options.backend.threads, batch,
      prompt_len, gen_len, load_s, prefill_s, batch * prompt_len / prefill_s, decode_s,
      gen_len > 0 ? batch * gen_len / decode_s : 0.0, gen_len > 0 ? 1e3 * decode_s / gen_len : 0.0,
      info.weight_bytes / 1048576.0, info.streamed_weight_bytes / 1048576.0,
      info.state_bytes_per_slot / 1048576.0, PeakRssMiB());
  return absl::OkStatus();
}

}  // namespace hymba::tools
