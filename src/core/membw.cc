#include "core/membw.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/threads.h"

namespace r1 {

double measure_read_bandwidth(double buffer_mib) {
  const size_t n = static_cast<size_t>(buffer_mib * (1 << 20)) / sizeof(uint64_t);
  std::vector<uint64_t> buf(n);
  ThreadPool& pool = thread_pool();
  // First touch from the threads that will read it.
  pool.parallel_range(static_cast<int64_t>(n), 4096, [&](int64_t a, int64_t b) {
    std::memset(buf.data() + a, 1, (b - a) * sizeof(uint64_t));
  });
  const int64_t chunks = pool.size();
  std::vector<uint64_t> sums(chunks * 8);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(chunks, [&](int64_t t) {
      size_t a = n * t / chunks, b = n * (t + 1) / chunks;
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = a; i + 4 <= b; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      sums[t * 8] = s0 + s1 + s2 + s3;
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, n * sizeof(uint64_t) / s);
  }
  volatile uint64_t sink = sums[0];
  (void)sink;
  return best;
}

}  // namespace r1
