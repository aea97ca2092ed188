// EngineLoop: the one thread that owns the scheduler and the engine (DESIGN.md "Scheduler").
// Each iteration: drain the inbox (new requests, cancellations) -> Schedule -> Engine::Step ->
// Update -> push events to the requests' streams. Other threads only Submit and Cancel.
//
// Ownership: borrows the engine, which must outlive the loop; streams are shared with callers.
// Errors: Submit never fails itself; a request the scheduler refuses (queue full, invalid) gets
// a stream whose only item carries that status.
// Thread safety: Submit, Cancel, stats and Stop are thread-safe.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/api/engine.h"
#include "scheduler/scheduler.h"
#include "scheduler/token_stream.h"

namespace hymba::scheduler {

class EngineLoop {
 public:
  // Starts the loop thread. REQUIRES: Scheduler::ValidateOptions(options).ok().
  EngineLoop(engine::Engine* engine, const SchedulerOptions& options);
  // Stops the thread; requests still in flight end with kCancelled.
  ~EngineLoop();

  std::shared_ptr<TokenStream> Submit(Request request);
  void Cancel(RequestId id);
  SchedulerStats stats() const;

 private:
  void Run();
  void Drain();
  void Deliver(const Event& event);

  engine::Engine* const engine_;
  Scheduler scheduler_;                                        // loop thread only
  std::map<RequestId, std::shared_ptr<TokenStream>> streams_;  // loop thread only

  mutable absl::Mutex mu_;
  std::deque<std::pair<Request, std::shared_ptr<TokenStream>>> inbox_ ABSL_GUARDED_BY(mu_);
  std::vector<RequestId> cancels_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  SchedulerStats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace hymba::scheduler
