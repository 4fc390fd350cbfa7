// Decode attention micro-benchmark: one step's attention over a KV cache (ops::attention on a
// models::KvCache), shaped like R1-Distill-Qwen-1.5B (28 layers, 12 query heads on 2 kv heads,
// head 128), with the caches flushed before every step so that the rows come from memory as they
// do in decode far into the context (--hot 1: not flushed). --tokens T > 1: T consecutive
// prompt tokens ending at the last cached position (prefill's attention). --kv-heads 1, 2, 3, 4,
// 6 or 12 (default 2) shares the 12 query heads out differently (1: as many decode tasks as
// sequences, which ops::attention splits over the rows when threads are left). Prints the median
// of --reps steps in ms and the cached bytes read per ms.
//
//   attention_bench [--context 4000] [--threads 1] [--block 16] [--dtype f32|bf16] [--tokens 1]
//                   [--hot 0|1] [--reps 12] [--kv-heads 2]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/threads.h"
#include "models/kv_cache.h"
#include "ops/ops.h"

using namespace r1;

int main(int argc, char** argv) {
  int64_t context = 4000, block = 16, tokens = 1, reps = 12, n_kv = 2;
  int threads = 1;
  bool bf16 = false, hot = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--context")
      context = std::atoll(value.c_str());
    else if (flag == "--threads")
      threads = std::atoi(value.c_str());
    else if (flag == "--block")
      block = std::atoll(value.c_str());
    else if (flag == "--dtype")
      bf16 = value == "bf16";
    else if (flag == "--tokens")
      tokens = std::atoll(value.c_str());
    else if (flag == "--hot")
      hot = value == "1";
    else if (flag == "--kv-heads")
      n_kv = std::atoll(value.c_str());
    else if (flag == "--reps")
      reps = std::atoll(value.c_str());
    else {
      std::fprintf(stderr, "attention_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  if (context < 1 || block < 1 || tokens < 1 || tokens > context || reps < 1 || threads < 1 ||
      n_kv < 1 || 12 % n_kv != 0) {
    std::fprintf(stderr, "attention_bench: bad arguments\n");
    return 2;
  }
  set_num_threads(threads);
  const int64_t L = 28, H = 12, D = 128;
  models::KvCache cache(L, n_kv * D, n_kv * D, context + 1, block);
  if (bf16) cache.set_dtype(DType::BF16);
  cache.set_segment(D);
  const int seq = cache.add_sequence();
  cache.reserve(seq, context);
  std::vector<float> row(n_kv * D);
  for (int64_t p = 0; p < context; ++p)
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t c = 0; c < n_kv * D; ++c) row[c] = std::sin(0.01f * (p * 7 + l * 3 + c));
      cache.write_k(l, seq, p, row.data(), 0, n_kv * D);
      cache.write_v(l, seq, p, row.data(), 0, n_kv * D);
    }
  cache.set_length(seq, context);
  Tensor q = Tensor::empty(DType::F32, {tokens, H * D});
  for (int64_t i = 0; i < q.numel(); ++i) q.ptr<float>()[i] = std::cos(0.1f * i);
  std::vector<int32_t> pos;
  for (int64_t t = 0; t < tokens; ++t) pos.push_back(static_cast<int32_t>(context - tokens + t));
  std::vector<char> flush(hot ? 0 : size_t(512) << 20, 1);
  std::vector<double> ms;
  long sink = 0;
  for (int64_t r = 0; r < reps; ++r) {
    for (size_t i = 0; i < flush.size(); i += 64) sink += flush[i];
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t l = 0; l < L; ++l) {
      const std::vector<ops::KvSpan> kv(tokens, {cache.k_rows(l, seq), cache.v_rows(l, seq)});
      sink += static_cast<long>(ops::attention(q, H, n_kv, D, kv, pos, 0.088f).ptr<float>()[0]);
    }
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  const double bytes = double(L) * 2 * n_kv * D * (bf16 ? 2 : 4) * context;
  std::printf(
      "context %lld, %lld token(s), %d thread(s), %lld kv head(s), block %lld, %s rows%s: %.2f ms "
      "per step, %.1f GB/s of cached rows (%ld)\n",
      static_cast<long long>(context), static_cast<long long>(tokens), threads,
      static_cast<long long>(n_kv), static_cast<long long>(block), bf16 ? "bf16" : "f32",
      hot ? ", hot" : "", med, bytes / med / 1e6, sink & 1);
  return 0;
}
