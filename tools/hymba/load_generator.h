// RunLoad: the measuring core of `hymba loadgen`. Sends streaming Generate calls of random
// prompt token ids to a hymba.v1 server, in a closed loop (a fixed number of streams in flight)
// or an open loop (Poisson arrivals), and records each call's latencies as the client sees them.
//
// Requests are a pure function of (seed, index), so two runs with the same plan send the same
// prompts and lengths whatever the timing. Each stream in flight has a thread of its own.
//
// Thread safety: RunLoad blocks the caller until every call has ended; `stub` must be safe to
// use from many threads (generated stubs are) and outlive the call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hymba/v1/hymba.grpc.pb.h"
#include "tools/hymba/length_distribution.h"

namespace hymba::tools {

struct LoadPlan {
  // rate <= 0: closed loop, `concurrency` streams always in flight.
  // rate > 0: open loop, Poisson arrivals at `rate` requests/s; an arrival finding `concurrency`
  // streams in flight waits for one to end (concurrency <= 0: no limit).
  double rate = 0;
  int concurrency = 1;
  // Stop: after `requests` requests when > 0; otherwise no request starts after `duration_s`
  // (those in flight run to their end and count).
  int requests = 0;
  double duration_s = 0;
  int warmup = 0;  // requests sent (closed loop) and waited for before the measured ones
  LengthDistribution prompt_len{128};
  LengthDistribution output_len{128};  // max_tokens, with ignore_eos set
  float temperature = 0;
  double timeout_s = 0;  // per call; <= 0: no deadline
  uint64_t seed = 0;
  int vocab_size = 0;  // prompt ids are drawn from [3, vocab_size), past <unk>, <s>, </s>
};

// One measured call.
struct RequestRecord {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string error;  // the status message when code != OK
  int prompt_tokens = 0;
  int output_tokens = 0;  // token ids received
  double ttft_s = -1;     // to the first response carrying tokens; -1 if none came
  double e2e_s = 0;       // to the end of the call
  // One entry per token after the first response: the gap since the previous token-carrying
  // response divided by the tokens in this one.
  std::vector<double> itl_s;
};

struct LoadResult {
  std::vector<RequestRecord> records;  // measured calls, in the order they ended
  double duration_s = 0;               // first measured send to last measured end
};

// The request with `index` in the plan's measured sequence (warm-up uses a separate sequence).
v1::GenerateRequest MakeLoadRequest(const LoadPlan& plan, bool warmup, uint64_t index);

LoadResult RunLoad(v1::Hymba::StubInterface& stub, const LoadPlan& plan);

}  // namespace hymba::tools
