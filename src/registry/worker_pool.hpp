// A fixed pool of threads running submitted jobs, for parallel layer
// transfers. The first exception a job throws is kept and rethrown by wait();
// jobs not yet started are then skipped, so a failed pull stops early.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kiln::registry {

/// Default parallel transfers per pull or push.
inline constexpr std::size_t kDefaultTransfers = 4;

class WorkerPool {
public:
  /// Starts threads (at least 1).
  explicit WorkerPool(std::size_t threads = kDefaultTransfers);
  /// Waits for running jobs, skips queued ones, never throws.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues a job. Jobs run in submission order as threads free up.
  void submit(std::function<void()> job);
  /// Blocks until every queued job finished (or was skipped after a failure);
  /// rethrows the first failure. The pool can be reused afterwards.
  void wait();
  /// True once a job failed: long jobs may poll it to stop early.
  bool failed() const;

private:
  void run();

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::vector<std::thread> threads_;
};

/// Runs fn(item) for every item on a temporary pool of threads; rethrows the first failure.
template <typename Items, typename Fn>
void for_each_parallel(Items& items, Fn fn, std::size_t threads = kDefaultTransfers) {
  WorkerPool pool(threads);
  for (auto& item : items) pool.submit([&fn, &item] { fn(item); });
  pool.wait();
}

}  // namespace kiln::registry
