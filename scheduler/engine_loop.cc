#include "scheduler/engine_loop.h"

#include "absl/synchronization/notification.h"

namespace hymba::scheduler {

EngineLoop::EngineLoop(engine::Engine* engine, const SchedulerOptions& options)
    : engine_(engine), scheduler_(std::make_unique<Scheduler>(options)) {
  thread_ = std::thread([this] { Run(); });
}

absl::StatusOr<std::unique_ptr<EngineLoop>> EngineLoop::Start(EngineFactory make_engine,
                                                              OptionsFactory make_options) {
  std::unique_ptr<EngineLoop> loop(new EngineLoop());
  absl::Status status;
  absl::Notification ready;
  loop->thread_ = std::thread([&, raw = loop.get()] {
    auto created = make_engine();
    if (created.ok()) {
      raw->owned_engine_ = std::move(created).value();
      raw->engine_ = raw->owned_engine_.get();
      const SchedulerOptions options = make_options(raw->engine_->info());
      status = Scheduler::ValidateOptions(options);
      if (status.ok()) raw->scheduler_ = std::make_unique<Scheduler>(options);
    } else {
      status = created.status();
    }
    const bool ok = status.ok();
    ready.Notify();  // `status` and `ready` are not touched after this
    if (ok) raw->Run();
  });
  ready.WaitForNotification();
  if (!status.ok()) {
    loop->thread_.join();
    return status;
  }
  return loop;
}

EngineLoop::~EngineLoop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<TokenStream> EngineLoop::Submit(Request request) {
  auto stream = std::make_shared<TokenStream>(request.id);
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    stream->Fail(absl::UnavailableError("the engine loop is stopping"));
    return stream;
  }
  inbox_.emplace_back(std::move(request), stream);
  return stream;
}

void EngineLoop::SetStatsSink(StatsSink* sink) {
  absl::MutexLock lock(&mu_);
  sink_ = sink;
}

void EngineLoop::Cancel(RequestId id) {
  absl::MutexLock lock(&mu_);
  cancels_.push_back(id);
}

absl::Time EngineLoop::step_started() const {
  const int64_t ns = step_started_ns_.load(std::memory_order_relaxed);
  return ns == kNotInStep ? absl::InfiniteFuture() : absl::FromUnixNanos(ns);
}

SchedulerStats EngineLoop::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void EngineLoop::Drain() {
  std::deque<std::pair<Request, std::shared_ptr<TokenStream>>> inbox;
  std::vector<RequestId> cancels;
  {
    absl::MutexLock lock(&mu_);
    inbox.swap(inbox_);
    cancels.swap(cancels_);
  }
  for (auto& [request, stream] : inbox) {
    const RequestId id = request.id;
    absl::Status status = streams_.count(id)
                              ? absl::AlreadyExistsError("request id is already in flight")
                              : scheduler_->AddRequest(std::move(request));
    if (!status.ok()) {
      stream->Fail(status);
      continue;
    }
    streams_[id] = stream;
  }
  for (RequestId id : cancels) scheduler_->Abort(id);
}

void EngineLoop::Deliver(const Event& event) {
  auto it = streams_.find(event.id);
  if (it == streams_.end()) return;
  it->second->Push(event);
  if (event.finished) streams_.erase(it);
}

void EngineLoop::Run() {
  for (;;) {
    const bool busy = !scheduler_->idle();  // read here: the scheduler is this thread's alone
    {
      absl::MutexLock lock(&mu_);
      auto has_news = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !inbox_.empty() || !cancels_.empty();
      };
      if (!busy) mu_.Await(absl::Condition(&has_news));
      if (stopping_) break;
    }
    Drain();
    const absl::Time start = absl::Now();
    step_started_ns_.store(absl::ToUnixNanos(start), std::memory_order_relaxed);
    ScheduledStep step = scheduler_->Schedule(start);
    std::vector<Event> events = std::move(step.finished_early);
    if (!step.empty()) {
      auto result = engine_->Step(step.plan);
      for (Event& e : scheduler_->Update(step, result)) events.push_back(std::move(e));
    }
    step_started_ns_.store(kNotInStep, std::memory_order_relaxed);
    StatsSink* sink;
    {
      absl::MutexLock lock(&mu_);
      stats_ = scheduler_->stats();
      sink = sink_;
    }
    for (const Event& e : events) {
      if (sink != nullptr) sink->OnEvent(e);
      Deliver(e);
    }
    if (sink != nullptr && !step.empty())
      sink->OnStep(scheduler_->stats(), absl::ToDoubleSeconds(absl::Now() - start));
  }
  // Shutting down: everything still in flight ends as cancelled.
  for (auto& [id, stream] : streams_) {
    Event e;
    e.id = id;
    e.finished = true;
    e.reason = FinishReason::kCancelled;
    stream->Push(e);
  }
  streams_.clear();
}

}  // namespace hymba::scheduler
