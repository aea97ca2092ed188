#include "tools/hymba/worker_pool.h"

namespace hymba::tools {

WorkerPool::WorkerPool(int max_threads) : max_threads_(max_threads) {}

WorkerPool::~WorkerPool() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* pending) { return *pending == 0; }, &pending_));
    stopping_ = true;
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

void WorkerPool::Run(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (max_threads_ > 0) {
    auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ < max_threads_; };
    mu_.Await(absl::Condition(&has_room));
  }
  queue_.push_back(std::move(job));
  ++pending_;
  // Every thread runs one job at a time, so as many threads as pending jobs means none waits.
  if (static_cast<int>(threads_.size()) < pending_) threads_.emplace_back([this] { WorkerLoop(); });
}

void WorkerPool::WaitIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* pending) { return *pending == 0; }, &pending_));
}

void WorkerPool::WorkerLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
    mu_.Await(absl::Condition(&ready));
    if (queue_.empty()) return;  // stopping, nothing left
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    mu_.Unlock();
    job();
    mu_.Lock();
    --pending_;
  }
}

}  // namespace hymba::tools
