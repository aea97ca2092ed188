// hymba bench --context: prefill and decode throughput for a matrix of batch sizes and context
// lengths on one engine (the checkpoint is loaded once), one JSON line per pair.
//
// For each (batch B, context C): P = min(B, --prefill-seqs) sequences of C random tokens are
// prefilled together in steps of at most --prefill-chunk tokens (timed: prefill tok/s); the other
// B - P slots are forked from them with CopySlot, because prefilling B·C tokens would dominate
// the run and a slot's decode cost does not depend on its tokens; then one untimed decode step
// and --gen-len timed ones of one token per sequence (decode tok/s). Every timed region ends with
// a step that returns logits, which waits for the device.
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/base/status_macros.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {
namespace {

struct Prefill {
  double seconds = 0;
  int steps = 0;
  std::vector<int32_t> next;  // [P] greedy next token of each prefilled sequence
};

int32_t Argmax(const float* row, int vocab) {
  return static_cast<int32_t>(std::max_element(row, row + vocab) - row);
}

absl::StatusOr<Prefill> PrefillSequences(engine::HymbaEngine& eng, int seqs, int context, int chunk,
                                         std::mt19937& rng) {
  const int vocab = eng.info().vocab_size;
  std::uniform_int_distribution<int> token(3, vocab - 1);
  std::vector<std::vector<int32_t>> prompts(seqs, std::vector<int32_t>(context));
  for (auto& p : prompts)
    for (auto& t : p) t = token(rng);
  const int per_step = std::max(1, chunk / seqs);
  Prefill out;
  out.next.resize(seqs);
  const double start = NowSeconds();
  for (int pos = 0; pos < context; pos += per_step) {
    const int len = std::min(per_step, context - pos);
    const bool last = pos + len == context;
    engine::BatchPlan plan;
    for (int s = 0; s < seqs; ++s) {
      engine::BatchEntry e;
      e.slot = s;
      e.reset_slot = pos == 0;
      e.start_pos = pos;
      e.tokens = absl::Span<const int32_t>(prompts[s].data() + pos, len);
      e.logits = last ? engine::LogitsMode::kLast : engine::LogitsMode::kNone;
      plan.entries.push_back(e);
    }
    HY_ASSIGN_OR_RETURN(engine::StepResult r, eng.Step(plan));
    ++out.steps;
    if (last)
      for (int s = 0; s < seqs; ++s) out.next[s] = Argmax(r.last_row(s), vocab);
  }
  out.seconds = NowSeconds() - start;
  return out;
}

// One decode step of one token in each of slots [0, batch).
absl::Status DecodeStep(engine::HymbaEngine& eng, std::vector<int32_t>& next) {
  engine::BatchPlan plan;
  for (int b = 0; b < static_cast<int>(next.size()); ++b) {
    engine::BatchEntry e;
    e.slot = b;
    e.start_pos = eng.SlotLength(b);
    e.tokens = absl::Span<const int32_t>(&next[b], 1);
    plan.entries.push_back(e);
  }
  HY_ASSIGN_OR_RETURN(engine::StepResult r, eng.Step(plan));
  for (int b = 0; b < static_cast<int>(next.size()); ++b)
    next[b] = Argmax(r.last_row(b), eng.info().vocab_size);
  return absl::OkStatus();
}

// Bytes of one sequence's state at `context` tokens: conv and SSM state of every layer, K/V of
// every producer layer (a full-attention ring holds every position, a SWA ring at most W).
double StateMiB(const engine::HymbaConfig& c, int context, bool kv_bf16) {
  const double I = c.d_inner();
  double bytes = c.num_hidden_layers * I * (c.mamba_d_conv - 1 + c.mamba_d_state) * 4.0;
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    if (!c.is_kv_producer(i)) continue;
    const int held = c.is_global(i) ? context : std::min(context, c.sliding_window);
    bytes += static_cast<double>(held) * (c.kv_width_k() + c.kv_width_v()) * (kv_bf16 ? 2 : 4);
  }
  return bytes / 1048576.0;
}

}  // namespace

absl::Status RunContextBench(engine::EngineOptions options, const std::vector<int>& batches,
                             const std::vector<int>& contexts, int gen_len, int prefill_seqs,
                             int prefill_chunk, int seed) {
  if (batches.empty() || contexts.empty())
    return absl::InvalidArgumentError("--batch and --context need at least one value");
  const int max_batch = *std::max_element(batches.begin(), batches.end());
  const int max_context = *std::max_element(contexts.begin(), contexts.end());
  if (*std::min_element(batches.begin(), batches.end()) <= 0 ||
      *std::min_element(contexts.begin(), contexts.end()) <= 0 || gen_len <= 0 ||
      prefill_seqs <= 0 || prefill_chunk <= 0)
    return absl::InvalidArgumentError(
        "--batch, --context, --gen-len, --prefill-seqs and --prefill-chunk must be > 0");
  options.max_slots = std::max(options.max_slots, max_batch);
  if (options.max_seq_len == 0) options.max_seq_len = max_context + gen_len + 1;
  const double load_start = NowSeconds();
  HY_ASSIGN_OR_RETURN(auto eng, engine::HymbaEngine::Create(options));
  const double load_s = NowSeconds() - load_start;
  std::mt19937 rng(seed);
  // Warm-up: kernel and library initialisation stays out of the timings.
  HY_RETURN_IF_ERROR(PrefillSequences(*eng, 1, 64, prefill_chunk, rng).status());
  const engine::EngineInfo& info = eng->info();
  for (int context : contexts) {
    for (int batch : batches) {
      const int seqs = std::min(batch, prefill_seqs);
      HY_ASSIGN_OR_RETURN(Prefill prefill,
                          PrefillSequences(*eng, seqs, context, prefill_chunk, rng));
      std::vector<int32_t> next(batch);
      for (int b = 0; b < batch; ++b) {
        if (b >= seqs) HY_RETURN_IF_ERROR(eng->CopySlot(b % seqs, b));
        next[b] = prefill.next[b % seqs];
      }
      HY_RETURN_IF_ERROR(DecodeStep(*eng, next));  // warm-up for this batch shape
      const double decode_start = NowSeconds();
      for (int step = 0; step < gen_len; ++step) HY_RETURN_IF_ERROR(DecodeStep(*eng, next));
      const double decode_s = NowSeconds() - decode_start;
      std::printf(
          "{\"model\":\"%s\",\"device\":\"%s\",\"precision\":\"%s\",\"kv_cache\":\"%s\","
          "\"batch\":%d,\"context\":%d,\"prefill_seqs\":%d,\"prefill_chunk\":%d,"
          "\"prefill_steps\":%d,\"prefill_s\":%.4f,\"prefill_tok_s\":%.1f,\"gen_len\":%d,"
          "\"decode_s\":%.4f,\"decode_tok_s\":%.1f,\"decode_step_ms\":%.3f,"
          "\"state_mib_at_context\":%.2f,\"state_mib_per_slot_allocated\":%.2f,"
          "\"weight_mib\":%.1f,\"streamed_weight_mib\":%.1f,\"load_s\":%.2f}\n",
          info.model_name.c_str(), info.device.c_str(), info.precision.c_str(),
          options.kv_cache_bf16 ? "bf16" : "f32", batch, context, seqs, prefill_chunk,
          prefill.steps, prefill.seconds, static_cast<double>(seqs) * context / prefill.seconds,
          gen_len, decode_s, static_cast<double>(batch) * gen_len / decode_s,
          1e3 * decode_s / gen_len, StateMiB(eng->config(), context, options.kv_cache_bf16),
          info.state_bytes_per_slot / 1048576.0, info.weight_bytes / 1048576.0,
          info.streamed_weight_bytes / 1048576.0, load_s);
      std::fflush(stdout);
    }
  }
  return absl::OkStatus();
}

}  // namespace hymba::tools
