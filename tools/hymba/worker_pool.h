// WorkerPool: runs blocking jobs (one gRPC stream each, for `hymba loadgen`) on threads of their
// own, at most `max_threads` at once, starting a thread only when no idle one is waiting.
//
// Thread safety: Run and WaitIdle may be called from any thread, but not from inside a job.
// The destructor waits for every job, then joins the threads.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hymba::tools {

class WorkerPool {
 public:
  // `max_threads` <= 0: no limit (a thread per job in flight).
  explicit WorkerPool(int max_threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Blocks while `max_threads` jobs are running, then hands `job` to a thread.
  void Run(std::function<void()> job);
  // Blocks until every job handed to Run has returned.
  void WaitIdle();

 private:
  void WorkerLoop();

  const int max_threads_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int pending_ ABSL_GUARDED_BY(mu_) = 0;  // jobs handed in and not yet returned
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hymba::tools
