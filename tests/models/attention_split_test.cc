// Decode attention over a KV cache when there are fewer (token, kv head) tasks than threads: each
// token's cached rows are split over several tasks and their partial softmax sums merged
// (ops::attention). Checked against the softmax over all rows computed directly in double, and
// against the unsplit path (one thread), for f32 and bf16 rows, two sequences of different
// lengths (so parts of different sizes), blocks of 16 rows.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/threads.h"
#include "models/kv_cache.h"
#include "ops/ops.h"

namespace r1 {
namespace {

TEST(Attention, DecodeSplitOverRowsIsTheSoftmaxOfAllRows) {
  const int64_t n_kv = 1, H = 4, D = 16;
  const std::vector<int64_t> len = {1100, 700};
  const float scale = 0.25f;
  for (DType dt : {DType::F32, DType::BF16}) {
    models::KvCache cache(1, n_kv * D, n_kv * D, 2048, 16);
    cache.set_dtype(dt);
    cache.set_segment(D);
    std::vector<int> seq;
    std::vector<float> row(n_kv * D);
    for (size_t s = 0; s < len.size(); ++s) {
      seq.push_back(cache.add_sequence());
      cache.reserve(seq[s], len[s]);
      for (int64_t p = 0; p < len[s]; ++p) {
        for (bool v : {false, true}) {
          // peaked scores: a few rows dominate each query's softmax
          for (int64_t c = 0; c < D; ++c)
            row[c] = 3.0f * static_cast<float>(std::sin(0.7 * p + 1.3 * c + 5.0 * s + 2.0 * v));
          v ? cache.write_v(0, seq[s], p, row.data(), 0, D)
            : cache.write_k(0, seq[s], p, row.data(), 0, D);
        }
      }
      cache.set_length(seq[s], len[s]);
    }
    Tensor q = Tensor::empty(DType::F32, {2, H * D});
    for (int64_t i = 0; i < q.numel(); ++i) q.ptr<float>()[i] = std::cos(0.37f * i);
    const std::vector<int32_t> pos = {static_cast<int32_t>(len[0] - 1),
                                      static_cast<int32_t>(len[1] - 1)};
    std::vector<ops::KvSpan> kv;
    for (size_t s = 0; s < len.size(); ++s)
      kv.push_back({cache.k_rows(0, seq[s]), cache.v_rows(0, seq[s])});
    set_num_threads(8);  // 2 tasks, 8 threads: 4 and 2 parts
    const Tensor split = ops::attention(q, H, n_kv, D, kv, pos, scale);
    set_num_threads(1);
    const Tensor whole = ops::attention(q, H, n_kv, D, kv, pos, scale);
    set_num_threads(0);
    float tmp[1];
    for (size_t s = 0; s < len.size(); ++s)
      for (int64_t h = 0; h < H; ++h) {
        const float* qh = q.ptr<float>() + static_cast<int64_t>(s) * H * D + h * D;
        std::vector<double> sc(static_cast<size_t>(len[s]));
        double mx = -1e300;
        for (int64_t p = 0; p < len[s]; ++p) {
          double dot = 0;
          for (int64_t c = 0; c < D; ++c) dot += qh[c] * kv[s].k.get(p, c, 1, tmp)[0];
          sc[p] = scale * dot;
          mx = std::max(mx, sc[p]);
        }
        double z = 0;
        for (double& e : sc) z += (e = std::exp(e - mx));
        for (int64_t c = 0; c < D; ++c) {
          double want = 0;
          for (int64_t p = 0; p < len[s]; ++p) want += sc[p] / z * kv[s].v.get(p, c, 1, tmp)[0];
          const int64_t i = static_cast<int64_t>(s) * H * D + h * D + c;
          ASSERT_NEAR(split.ptr<float>()[i], want, 1e-5 * (1 + std::fabs(want)))
              << dtype_name(dt) << " sequence " << s << " head " << h << " column " << c;
          ASSERT_NEAR(whole.ptr<float>()[i], want, 1e-5 * (1 + std::fabs(want)));
        }
      }
  }
}

}  // namespace
}  // namespace r1
