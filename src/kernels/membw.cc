#include "kernels/membw.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/tensor.h"
#include "core/threads.h"
#include "kernels/kernels.h"

namespace r1::kernels {

double measure_read_bandwidth(double buffer_mib) {
  const int64_t n =
      static_cast<int64_t>(buffer_mib * (1 << 20)) / static_cast<int64_t>(sizeof(float));
  // Allocated as the weights are (Tensor::empty: in huge pages where the OS grants them), so the
  // probe streams memory the way decode does.
  const Tensor owner = Tensor::empty(DType::F32, {n});
  float* const buf = static_cast<float*>(owner.data);
  ThreadPool& pool = thread_pool();
  // First touch from the threads that will read it.
  pool.parallel_range(n, 4096, [&](int64_t a, int64_t b) {
    std::memset(buf + a, 0, static_cast<size_t>(b - a) * sizeof(float));
  });
  const int64_t chunks = pool.size();
  // Thread t reads [n t / chunks, n (t + 1) / chunks) as 4 streams of stream_len(t) values.
  auto first = [&](int64_t t) { return n * t / chunks; };
  auto stream_len = [&](int64_t t) { return (first(t + 1) - first(t)) / 4; };
  const KernelTable& k = kernels();
  std::vector<float> sums(static_cast<size_t>(chunks) * 16);
  // Each thread reads its range as 4 streams a quarter of it apart, side by side, as the decode
  // kernels read several weight rows at once (one stream per core read 20-25% less on an Intel
  // Xeon, 10.7 against 13.3 GB/s), and as one stream, which once read more on an AMD Zen 4 (a
  // throwaway AVX2 program: 35 against 27 GB/s on one core; kernels_bench's first line, which
  // reads both ways, has had either ahead there): the roofline is the best of both. The reads are
  // the ISA's vectors: a scalar loop was the limit on one Zen 4 core (17-18 GB/s).
  double bytes = 0;  // 4 stream_len(t) values per thread, read either way
  for (int64_t t = 0; t < chunks; ++t) bytes += 16.0 * static_cast<double>(stream_len(t));
  double best = 0;
  for (int pass = 0; pass < 6; ++pass) {
    const bool one_stream = pass % 2 == 1;
    auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(chunks, [&](int64_t t) {
      const int64_t len = stream_len(t);
      sums[static_cast<size_t>(t) * 16] = one_stream ? k.sum_streams(buf + first(t), 0, 4 * len, 1)
                                                     : k.sum_streams(buf + first(t), len, len, 4);
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, bytes / s);
  }
  volatile float sink = sums[0];
  (void)sink;
  return best;
}

}  // namespace r1::kernels
