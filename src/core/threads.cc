#include "core/threads.h"

#include <sched.h>

#include <memory>
#include <mutex>

#include "core/error.h"

namespace r1 {

namespace {
// About 50 microseconds of spinning before a worker sleeps.
constexpr int kSpinIterations = 20000;
constexpr uint64_t kClosed = 1ull << 31;
constexpr uint64_t kJoinedMask = kClosed - 1;
constexpr int kChunksPerThread = 4;

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this] { worker(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  state_.fetch_add(1ull << 32);
  state_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::work() {
  for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < n_tasks_;) (*task_)(i);
}

void ThreadPool::worker() {
  uint64_t seen_gen = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (int spin = 0; (s >> 32) == seen_gen && spin < kSpinIterations; ++spin) {
      cpu_relax();
      s = state_.load(std::memory_order_acquire);
    }
    if ((s >> 32) == seen_gen) {
      state_.wait(s);
      continue;
    }
    seen_gen = s >> 32;
    if (stop_.load()) return;
    // Join the loop unless the caller already closed it (then it did all the work).
    bool joined = false;
    while (!(s & kClosed) && (s >> 32) == seen_gen) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    work();
    finished_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  task_ = &fn;
  n_tasks_ = n;
  next_.store(0, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  const uint64_t gen = (state_.load() >> 32) + 1;
  state_.store(gen << 32, std::memory_order_release);  // open, nobody joined yet
  state_.notify_all();
  work();
  const uint64_t joined = state_.fetch_or(kClosed, std::memory_order_acq_rel) & kJoinedMask;
  // Wait for the workers that joined to finish their last task.
  for (int spin = 0; static_cast<uint64_t>(finished_.load(std::memory_order_acquire)) != joined;
       ++spin) {
    if (spin < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  task_ = nullptr;
}

void ThreadPool::parallel_range(int64_t n, int64_t align,
                                const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (align < 1) align = 1;
  const int64_t blocks = (n + align - 1) / align;
  const int64_t chunks =
      std::min<int64_t>(blocks, static_cast<int64_t>(n_threads_) * kChunksPerThread);
  if (chunks <= 1 || n_threads_ == 1) {
    fn(0, n);
    return;
  }
  parallel_for(chunks, [&](int64_t c) {
    const int64_t b0 = blocks * c / chunks, b1 = blocks * (c + 1) / chunks;
    const int64_t begin = b0 * align, end = std::min(n, b1 * align);
    if (begin < end) fn(begin, end);
  });
}

int available_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned h = std::thread::hardware_concurrency();
  return h ? static_cast<int>(h) : 1;
}

namespace {
std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> p;
  return p;
}
std::mutex pool_mutex;
}  // namespace

ThreadPool& thread_pool() {
  std::lock_guard<std::mutex> lock(pool_mutex);
  auto& p = pool_slot();
  if (!p) p = std::make_unique<ThreadPool>(available_cpus());
  return *p;
}

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(pool_mutex);
  if (n <= 0) n = available_cpus();
  pool_slot() = std::make_unique<ThreadPool>(n);
}

}  // namespace r1
