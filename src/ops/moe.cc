#include "ops/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace r1::ops {

std::vector<std::vector<ExpertChoice>> route_experts(const Tensor& logits, const Tensor& bias,
                                                     const MoeRouting& r) {
  const int64_t T = logits.dim(0), E = logits.dim(1), per_group = E / r.n_group;
  R1_ASSERT(E % r.n_group == 0 && r.topk_group <= r.n_group && r.top_k <= E);
  std::vector<float> b(E);
  if (bias.defined()) {
    R1_ASSERT(bias.dtype == DType::F32 && bias.numel() == E);
    std::copy_n(bias.ptr<float>(), E, b.data());
  }
  const float neg_inf = -std::numeric_limits<float>::infinity();
  std::vector<std::vector<ExpertChoice>> out(T);
  std::vector<float> s(E), sel(E), gscore(r.n_group);
  std::vector<int64_t> order(std::max(E, r.n_group));
  for (int64_t t = 0; t < T; ++t) {
    const float* l = logits.ptr<float>() + t * E;
    for (int64_t e = 0; e < E; ++e) {
      s[e] = 1.0f / (1.0f + std::exp(-l[e]));
      sel[e] = s[e] + b[e];
    }
    if (r.n_group > 1) {
      for (int64_t g = 0; g < r.n_group; ++g) {
        const float* v = sel.data() + g * per_group;
        float top1 = neg_inf, top2 = neg_inf;
        for (int64_t i = 0; i < per_group; ++i) {
          if (v[i] > top1) {
            top2 = top1;
            top1 = v[i];
          } else if (v[i] > top2) {
            top2 = v[i];
          }
        }
        gscore[g] = per_group > 1 ? top1 + top2 : top1;
      }
      std::iota(order.begin(), order.begin() + r.n_group, 0);
      std::stable_sort(order.begin(), order.begin() + r.n_group,
                       [&](int64_t a, int64_t c) { return gscore[a] > gscore[c]; });
      for (int64_t k = r.topk_group; k < r.n_group; ++k)
        std::fill_n(sel.data() + order[k] * per_group, per_group, neg_inf);
    }
    std::iota(order.begin(), order.begin() + E, 0);
    std::partial_sort(
        order.begin(), order.begin() + r.top_k, order.begin() + E,
        [&](int64_t a, int64_t c) { return sel[a] > sel[c] || (sel[a] == sel[c] && a < c); });
    float sum = 0;
    for (int64_t k = 0; k < r.top_k; ++k) sum += s[order[k]];
    for (int64_t k = 0; k < r.top_k; ++k) {
      float w = s[order[k]];
      if (r.norm_topk_prob) w /= sum;
      out[t].push_back({static_cast<int32_t>(order[k]), w * r.routed_scaling_factor});
    }
  }
  return out;
}

}  // namespace r1::ops
