// A fixed pool of worker threads for data-parallel loops. Work is handed out as tasks from a
// shared counter and the calling thread takes tasks too, so a loop never waits for a worker that
// has not started: on an oversubscribed machine (other processes, parallel test runs) a worker
// that lost its CPU simply joins late or not at all, instead of stalling the caller for a time
// slice. Workers spin briefly between loops (decode issues thousands of short loops per second
// and a futex wake costs more than the work), then sleep.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace r1 {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Calls fn(i) for every i in [0, n), on any of the threads, and returns when all are done.
  // Not reentrant: fn must not start another loop on this pool.
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);
  // Splits [0, n) into contiguous chunks (multiples of `align` except the last; a few per
  // thread, for balance) and calls fn(begin, end) for each.
  void parallel_range(int64_t n, int64_t align, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker();
  void work();  // takes tasks until none are left

  int n_threads_;
  std::vector<std::thread> threads_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t n_tasks_ = 0;
  std::atomic<int64_t> next_{0};
  // Generation in the high 32 bits, a "closed" bit, and the number of workers that joined the
  // current loop in the low bits. A worker joins only while the loop is open.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> finished_{0};
  std::atomic<bool> stop_{false};
};

// The process-wide pool; sized to the CPUs this process may run on unless set_num_threads()
// was called first.
ThreadPool& thread_pool();
void set_num_threads(int n);  // n <= 0 means the machine's CPU count
int available_cpus();

}  // namespace r1
