// A fixed pool of worker threads for data-parallel loops. The calling thread takes part as
// worker 0. Workers spin briefly between jobs (decode issues thousands of short parallel
// regions per second, and a futex wake per region would cost more than the work), then sleep.
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
  // Calls fn(thread_index, n_threads) once on each thread and waits for all of them.
  // Not reentrant: fn must not call run() again.
  void run(const std::function<void(int, int)>& fn);
  // Splits [0, n) into contiguous chunks (multiples of `align`, except the last) over the
  // threads and calls fn(begin, end) for each non-empty chunk.
  void parallel_range(int64_t n, int64_t align, const std::function<void(int64_t, int64_t)>& fn);
  // Calls fn(i) for every i in [0, n), handing out indices dynamically.
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

 private:
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

// The process-wide pool; sized to the CPUs this process may run on unless set_num_threads()
// was called first.
ThreadPool& thread_pool();
void set_num_threads(int n);  // n <= 0 means the machine's CPU count
int available_cpus();

}  // namespace r1
