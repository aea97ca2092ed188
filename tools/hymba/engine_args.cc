#include <algorithm>
#include <chrono>

#include "engine/base/status_macros.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {

absl::StatusOr<engine::EngineOptions> EngineOptionsFromArgs(CliArgs& args,
                                                            const std::string& default_precision,
                                                            int default_slots) {
  engine::EngineOptions o;
  HY_ASSIGN_OR_RETURN(o.model_dir, args.String("model"));
  o.backend.precision = args.StringOr("precision", default_precision);
  o.backend.device = args.StringOr("device", "auto");
  HY_ASSIGN_OR_RETURN(o.backend.threads, args.IntOr("threads", 0));
  HY_ASSIGN_OR_RETURN(o.max_slots, args.IntOr("max-slots", default_slots));
  HY_ASSIGN_OR_RETURN(o.max_seq_len, args.IntOr("max-seq-len", 0));
  const std::string kv = args.StringOr("kv-cache", "f32");
  if (kv != "f32" && kv != "bf16")
    return absl::InvalidArgumentError("--kv-cache: expected f32 or bf16");
  o.kv_cache_bf16 = kv == "bf16";
  const std::string gemm = args.StringOr("prefill-gemm", "default");
  if (gemm != "default" && gemm != "fp16")
    return absl::InvalidArgumentError("--prefill-gemm: expected default or fp16");
  o.backend.prefill_gemm_fp16 = gemm == "fp16";
  return o;
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

absl::StatusOr<std::unique_ptr<scheduler::EngineLoop>> StartEngineLoop(
    const engine::EngineOptions& options, int max_queue) {
  return scheduler::EngineLoop::Start(
      [options]() -> absl::StatusOr<std::unique_ptr<engine::Engine>> {
        HY_ASSIGN_OR_RETURN(auto eng, engine::HymbaEngine::Create(options));
        return std::unique_ptr<engine::Engine>(std::move(eng));
      },
      [max_queue](const engine::EngineInfo& info) {
        scheduler::SchedulerOptions o;
        o.max_slots = info.max_slots;
        o.max_seq_len = info.max_seq_len;
        o.max_batch_tokens = std::max(512, o.max_slots);
        o.max_queue = max_queue;
        o.vocab_size = info.vocab_size;
        o.eos_token_id = info.eos_token_id;
        return o;
      });
}

}  // namespace hymba::tools
