// scheduler_overhead: the scheduler's own cost per step (Schedule + Update, sampling included)
// with N running sequences decoding, against a stand-in engine that returns constant logits.
// Prints JSON {"running":N,"vocab":V,"us_per_step":X}.
// Usage: scheduler_overhead [running=256] [vocab=32001] [steps=2000]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "scheduler/scheduler.h"

using hymba::scheduler::Request;
using hymba::scheduler::Scheduler;
using hymba::scheduler::SchedulerOptions;

int main(int argc, char** argv) {
  const int running = argc > 1 ? std::atoi(argv[1]) : 256;
  const int vocab = argc > 2 ? std::atoi(argv[2]) : 32001;
  const int steps = argc > 3 ? std::atoi(argv[3]) : 2000;
  SchedulerOptions o;
  o.max_slots = running;
  o.max_seq_len = 1 << 20;
  o.max_batch_tokens = running * 4;  // every prompt (4 tokens) fits the first step
  o.prefill_chunk = 64;
  o.max_queue = running;
  o.vocab_size = vocab;
  o.eos_token_id = 2;
  Scheduler scheduler(o);
  for (int i = 0; i < running; ++i) {
    Request r;
    r.id = i + 1;
    r.prompt = {5, 6, 7, 8};
    r.stop.max_tokens = 1 << 19;
    r.stop.ignore_eos = true;
    (void)scheduler.AddRequest(r);
  }
  hymba::engine::StepResult result;
  result.vocab_size = vocab;
  result.logits.assign(static_cast<size_t>(running) * vocab, 0.0f);
  for (int i = 0; i < running; ++i) result.logits[static_cast<size_t>(i) * vocab + 9] = 1.0f;
  for (int i = 0; i < running; ++i) {
    result.row_begin.push_back(i);
    result.row_count.push_back(1);
  }
  // Step 1 prefills every prompt; the timed steps are pure decode.
  auto first = scheduler.Schedule(absl::UnixEpoch());
  scheduler.Update(first, result);
  double total = 0.0;
  for (int s = 0; s < steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    auto step = scheduler.Schedule(absl::UnixEpoch());
    auto events = scheduler.Update(step, result);
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (static_cast<int>(events.size()) != running) {
      std::fprintf(stderr, "unexpected: %zu events\n", events.size());
      return 1;
    }
  }
  std::printf("{\"running\":%d,\"vocab\":%d,\"steps\":%d,\"us_per_step\":%.1f}\n", running, vocab,
              steps, 1e6 * total / steps);
  return 0;
}
