// WorkerPool: a queue, a mutex, two condition variables.
#include "registry/worker_pool.hpp"

#include <utility>

namespace kiln::registry {

WorkerPool::WorkerPool(std::size_t threads) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  work_ready_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void WorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  work_ready_.notify_one();
}

void WorkerPool::wait() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
  if (auto error = std::exchange(error_, nullptr)) std::rethrow_exception(error);
}

bool WorkerPool::failed() const {
  std::lock_guard lock(mutex_);
  return error_ != nullptr;
}

void WorkerPool::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto job = std::move(queue_.front());
    queue_.pop_front();
    if (error_) {  // an earlier job failed: skip the rest
      if (queue_.empty() && running_ == 0) idle_.notify_all();
      continue;
    }
    ++running_;
    lock.unlock();
    std::exception_ptr error;
    try {
      job();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    --running_;
    if (error && !error_) error_ = error;
    if (queue_.empty() && running_ == 0) idle_.notify_all();
  }
}

}  // namespace kiln::registry
