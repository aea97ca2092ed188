// StatsSink: where the engine loop reports plain scheduler statistics after every step. The
// server's metrics module implements it (Prometheus stays out of the layers below the server).
//
// Thread safety: OnStep is called on the engine-loop thread; implementations synchronize what
// they share with other threads.
#pragma once

#include "scheduler/scheduler.h"

namespace hymba::scheduler {

class StatsSink {
 public:
  virtual ~StatsSink() = default;
  // After each engine step: the scheduler's state and the step's wall time.
  virtual void OnStep(const SchedulerStats& stats, double step_seconds) = 0;
  // Each finished request, with its reason.
  virtual void OnFinished(const Event& event) = 0;
};

}  // namespace hymba::scheduler
