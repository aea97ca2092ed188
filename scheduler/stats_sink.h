// StatsSink: where the engine loop reports plain scheduler statistics after every step. The
// server's metrics module implements it (Prometheus stays out of the layers below the server).
//
// Thread safety: both methods are called on the engine-loop thread; implementations synchronize
// what they share with other threads.
#pragma once

#include "scheduler/scheduler.h"

namespace hymba::scheduler {

class StatsSink {
 public:
  virtual ~StatsSink() = default;
  // After each engine step: the scheduler's state and the step's wall time.
  virtual void OnStep(const SchedulerStats& stats, double step_seconds) = 0;
  // Every event of the step (new tokens with their timing, finished requests with their reason),
  // before it reaches the request's stream.
  virtual void OnEvent(const Event& event) = 0;
};

}  // namespace hymba::scheduler
