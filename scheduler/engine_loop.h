// EngineLoop: the one thread that owns the scheduler and the engine (DESIGN.md "Scheduler").
// Each iteration: drain the inbox (new requests, cancellations) -> Schedule -> Engine::Step ->
// Update -> push events to the requests' streams. Other threads only Submit and Cancel.
//
// Ownership: borrows the engine, which must outlive the loop; streams are shared with callers.
// Errors: Submit never fails itself; a request the scheduler refuses (queue full, invalid) gets
// a stream whose only item carries that status.
// Thread safety: Submit, Cancel, stats and Stop are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/api/engine.h"
#include "scheduler/scheduler.h"
#include "scheduler/stats_sink.h"
#include "scheduler/token_stream.h"

namespace hymba::scheduler {

class EngineLoop {
 public:
  using EngineFactory = std::function<absl::StatusOr<std::unique_ptr<engine::Engine>>()>;
  using OptionsFactory = std::function<SchedulerOptions(const engine::EngineInfo&)>;

  // Starts the loop thread and creates the engine on it, so that one thread does all engine work
  // (a CPU backend's worker pool belongs to the thread that first runs it: a second driving
  // thread meant a second pool competing for the cores, 30% slower decode). Returns the engine's
  // error, or InvalidArgument for scheduler options that fail validation.
  static absl::StatusOr<std::unique_ptr<EngineLoop>> Start(EngineFactory make_engine,
                                                           OptionsFactory make_options);

  // Starts the loop thread over an existing engine (borrowed; it must outlive the loop).
  // REQUIRES: Scheduler::ValidateOptions(options).ok().
  EngineLoop(engine::Engine* engine, const SchedulerOptions& options);
  // Stops the thread; requests still in flight end with kCancelled.
  ~EngineLoop();

  // Identity and capacity of the engine (valid for the loop's lifetime).
  const engine::EngineInfo& info() const { return engine_->info(); }

  // Reports to `sink` from the next step on (borrowed; it must outlive the loop).
  void SetStatsSink(StatsSink* sink);

  std::shared_ptr<TokenStream> Submit(Request request);
  void Cancel(RequestId id);
  SchedulerStats stats() const;
  // When the step now running began; InfiniteFuture between steps. A watchdog reads it to tell
  // a hung engine from an idle one.
  absl::Time step_started() const;

 private:
  static constexpr int64_t kNotInStep = INT64_MAX;
  void Run();
  void Drain();
  void Deliver(const Event& event);

  EngineLoop() = default;

  std::unique_ptr<engine::Engine> owned_engine_;
  engine::Engine* engine_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;                       // loop thread only
  std::map<RequestId, std::shared_ptr<TokenStream>> streams_;  // loop thread only

  mutable absl::Mutex mu_;
  std::deque<std::pair<Request, std::shared_ptr<TokenStream>>> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestId> cancels_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  SchedulerStats stats_ ABSL_GUARDED_BY(mu_);
  StatsSink* sink_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::atomic<int64_t> step_started_ns_{kNotInStep};
  std::thread thread_;
};

}  // namespace hymba::scheduler
