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
  // Thread t reads [n t / chunks, n (t + 1) / chunks) as 4 streams of stream_len(t) words.
  auto first = [&](int64_t t) { return n * static_cast<size_t>(t) / chunks; };
  auto stream_len = [&](int64_t t) { return (first(t + 1) - first(t)) / 4 / 2 * 2; };
  double bytes = 0;
  for (int64_t t = 0; t < chunks; ++t) bytes += 4.0 * stream_len(t) * sizeof(uint64_t);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    // Each thread reads its quarter-ranges as 4 streams side by side, as the decode kernels read
    // several weight rows at once: one stream per core read 20-25% less on an Intel Xeon (10.7
    // against 13.3 GB/s on one core), which made decode look faster than the roofline.
    pool.parallel_for(chunks, [&](int64_t t) {
      const size_t len = stream_len(t);
      const uint64_t* p[4];
      for (int j = 0; j < 4; ++j) p[j] = buf.data() + first(t) + j * len;
      uint64_t s[8] = {};
      for (size_t i = 0; i < len; i += 2)
        for (int j = 0; j < 4; ++j) {
          s[2 * j] += p[j][i];
          s[2 * j + 1] += p[j][i + 1];
        }
      uint64_t total = 0;
      for (uint64_t v : s) total += v;
      sums[t * 8] = total;
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, bytes / s);
  }
  volatile uint64_t sink = sums[0];
  (void)sink;
  return best;
}

}  // namespace r1
