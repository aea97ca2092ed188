// The `hymba` sub-commands. Each returns the process exit code: 0 on success; on any error it
// prints one line "hymba <command>: <message>" to stderr and returns non-zero.
//
// Thread safety: each runs on the main thread.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/hymba_engine.h"
#include "scheduler/engine_loop.h"
#include "tools/hymba/cli_args.h"

namespace hymba::tools {

absl::Status RunLogits(CliArgs& args);
absl::Status RunGenerate(CliArgs& args);
absl::Status RunBench(CliArgs& args);
absl::Status RunClient(CliArgs& args);
// Against a running server over gRPC: load with latency percentiles; the health check.
absl::Status RunLoadgen(CliArgs& args);
absl::Status RunHealth(CliArgs& args);

// Requests through the engine loop with `concurrency` clients; prints JSON.
absl::Status RunServingBench(const engine::EngineOptions& options, int requests, int concurrency,
                             int prompt_len, int gen_len, int seed);

// Prefill and decode throughput over batch sizes x context lengths on one engine; prints one JSON
// line per pair (context_bench.cc).
absl::Status RunContextBench(engine::EngineOptions options, const std::vector<int>& batches,
                             const std::vector<int>& contexts, int gen_len, int prefill_seqs,
                             int prefill_chunk, int seed);

// Seconds on the monotonic clock, for the benchmarks' timings.
double NowSeconds();

// Starts the engine loop, building a HymbaEngine from `options` on the loop thread, with
// scheduler options derived from the engine's capacity.
absl::StatusOr<std::unique_ptr<scheduler::EngineLoop>> StartEngineLoop(
    const engine::EngineOptions& options, int max_queue);

// --model, --precision (default `default_precision`), --threads, --device, --max-slots,
// --max-seq-len: the options every engine-backed command shares.
absl::StatusOr<engine::EngineOptions> EngineOptionsFromArgs(CliArgs& args,
                                                            const std::string& default_precision,
                                                            int default_slots);

}  // namespace hymba::tools
