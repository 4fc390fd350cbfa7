// The thread pool: every index visited exactly once, ranges that tile [0, n) with the promised
// alignment, results independent of the pool size, and pools that start and stop cleanly.
#include "core/threads.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <vector>

namespace r1 {
namespace {

TEST(ThreadPool, ParallelForVisitsEachIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {0, 1, 2, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.parallel_for(n, [&](int64_t i) { hits[static_cast<size_t>(i)].fetch_add(1); });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i].load(), 1) << threads << " " << n << " " << i;
    }
  }
}

TEST(ThreadPool, ParallelRangeTilesWithAlignment) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 15, 16, 17, 1000, 4099}) {
      for (int64_t align : {1, 4, 16, 64}) {
        std::mutex m;
        std::vector<std::pair<int64_t, int64_t>> ranges;
        pool.parallel_range(n, align, [&](int64_t b, int64_t e) {
          std::lock_guard<std::mutex> lock(m);
          ranges.push_back({b, e});
        });
        std::sort(ranges.begin(), ranges.end());
        int64_t at = 0;
        for (const auto& [b, e] : ranges) {
          ASSERT_EQ(b, at) << "contiguous, no overlap";
          ASSERT_LT(b, e) << "no empty chunk";
          if (e != n) {
            ASSERT_EQ((e - b) % align, 0) << "chunks are multiples of align";
          }
          at = e;
        }
        ASSERT_EQ(at, n);
      }
    }
  }
}

TEST(ThreadPool, ManyShortLoopsAndASumThatDoesNotDependOnThreads) {
  // Decode issues thousands of short loops back to back; a lost wake-up would hang here.
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  for (int loop = 0; loop < 20000; ++loop)
    pool.parallel_for(3, [&](int64_t i) { total.fetch_add(i + 1); });
  EXPECT_EQ(total.load(), 20000 * 6);
  // Per-index partial results combined in index order: the same for any pool size.
  auto sum = [](int threads) {
    ThreadPool p(threads);
    std::vector<double> part(64);
    p.parallel_for(64, [&](int64_t i) {
      double s = 0;
      for (int k = 0; k < 1000; ++k) s += 1.0 / (i * 1000 + k + 1);
      part[static_cast<size_t>(i)] = s;
    });
    double t = 0;
    for (double x : part) t += x;
    return t;
  };
  EXPECT_EQ(sum(1), sum(3));
}

TEST(ThreadPool, StartsAndStopsRepeatedly) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(1 + i % 4);
    std::atomic<int> n{0};
    pool.parallel_for(10, [&](int64_t) { n++; });
    EXPECT_EQ(n.load(), 10);
  }
  EXPECT_GE(available_cpus(), 1);
}

}  // namespace
}  // namespace r1
