// WorkerPool: every job runs once, no more than max_threads at a time, and an unbounded pool
// runs blocked jobs side by side.
#include "tools/hymba/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"

namespace hymba::tools {
namespace {

TEST(WorkerPoolTest, RunsEveryJobWithinTheThreadLimit) {
  std::atomic<int> running{0}, peak{0}, done{0};
  {
    WorkerPool pool(3);
    for (int i = 0; i < 40; ++i)
      pool.Run([&] {
        const int now = ++running;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        --running;
        ++done;
      });
    pool.WaitIdle();
    EXPECT_EQ(done.load(), 40);
  }
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 1);
}

TEST(WorkerPoolTest, UnboundedPoolRunsBlockedJobsTogether) {
  constexpr int kJobs = 8;
  absl::Notification release;
  std::atomic<int> started{0};
  WorkerPool pool(0);
  // Each job blocks until all have started: this ends only if they run at the same time.
  for (int i = 0; i < kJobs; ++i)
    pool.Run([&] {
      if (++started == kJobs) release.Notify();
      release.WaitForNotification();
    });
  pool.WaitIdle();
  EXPECT_EQ(started.load(), kJobs);
}

TEST(WorkerPoolTest, DestructorWaitsForJobs) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(2);
    for (int i = 0; i < 6; ++i)
      pool.Run([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ++done;
      });
  }
  EXPECT_EQ(done.load(), 6);
}

}  // namespace
}  // namespace hymba::tools
