#include "ops/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "ops/ops.h"
#include "ops/tape.h"

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

Tensor expert_weights(const Tensor& logits, const std::vector<std::vector<ExpertChoice>>& choice,
                      const MoeRouting& r) {
  const int64_t T = logits.dim(0), E = logits.dim(1), k = r.top_k;
  R1_ASSERT(static_cast<int64_t>(choice.size()) == T);
  Tensor w = Tensor::zeros(DType::F32, {T, k});
  // s of each choice, kept for the backward.
  Tensor s = Tensor::zeros(DType::F32, {T, k});
  for (int64_t t = 0; t < T; ++t) {
    R1_ASSERT(static_cast<int64_t>(choice[t].size()) == k);
    float sum = 0;
    float* st = s.ptr<float>() + t * k;
    for (int64_t i = 0; i < k; ++i) {
      const int32_t e = choice[t][i].expert;
      R1_ASSERT(e >= 0 && e < E);
      st[i] = 1.0f / (1.0f + std::exp(-logits.ptr<float>()[t * E + e]));
      sum += st[i];
    }
    for (int64_t i = 0; i < k; ++i) {
      float v = st[i];
      if (r.norm_topk_prob) v /= sum;
      w.ptr<float>()[t * k + i] = v * r.routed_scaling_factor;
    }
  }
  if (Tape* tp = recording({&logits})) {
    tp->record(w, {logits, s}, [logits, choice, r, s, w](Tape& tape) {
      const Tensor* g = tape.find_grad(w);
      if (!g) return;
      Tensor& d = tape.grad(logits);
      const int64_t T = logits.dim(0), E = logits.dim(1), k = r.top_k;
      const float c = r.routed_scaling_factor;
      for (int64_t t = 0; t < T; ++t) {
        const float* st = s.ptr<float>() + t * k;
        const float* gt = g->ptr<float>() + t * k;
        // ds_j = c g_j (plain), or c / S (g_j - sum_k g_k s_k / S) with S = sum_k s_k;
        // dlogit = ds s (1 - s).
        double S = 0, gs = 0;
        for (int64_t i = 0; i < k; ++i) {
          S += st[i];
          gs += static_cast<double>(gt[i]) * st[i];
        }
        for (int64_t i = 0; i < k; ++i) {
          const double ds = r.norm_topk_prob ? c / S * (gt[i] - gs / S) : c * gt[i];
          d.ptr<float>()[t * E + choice[t][i].expert] +=
              static_cast<float>(ds * st[i] * (1.0 - st[i]));
        }
      }
    });
  }
  return w;
}

std::vector<ExpertRows> expert_rows(const std::vector<std::vector<ExpertChoice>>& choice,
                                    int64_t n_experts) {
  std::vector<ExpertRows> rows(n_experts);
  for (size_t t = 0; t < choice.size(); ++t)
    for (size_t k = 0; k < choice[t].size(); ++k) {
      const int32_t e = choice[t][k].expert;
      R1_ASSERT(e >= 0 && e < n_experts);
      rows[e].token.push_back(static_cast<int64_t>(t));
      rows[e].slot.push_back(static_cast<int64_t>(t * choice[t].size() + k));
    }
  return rows;
}

Tensor moe_combine(const Tensor& base, const std::vector<Tensor>& outs,
                   const std::vector<ExpertRows>& rows, const Tensor& weights) {
  const int64_t Hd = base.dim(1);
  R1_ASSERT(outs.size() == rows.size() && base.dtype == DType::F32 && base.ndim() == 2);
  Tensor y = Tensor::zeros(DType::F32, base.shape);
  std::copy_n(base.ptr<float>(), base.numel(), y.ptr<float>());
  const float* w = weights.ptr<float>();
  for (size_t e = 0; e < outs.size(); ++e) {
    if (rows[e].token.empty()) continue;
    R1_ASSERT(outs[e].dim(0) == static_cast<int64_t>(rows[e].token.size()) && outs[e].dim(1) == Hd);
    for (size_t i = 0; i < rows[e].token.size(); ++i) {
      const float wi = w[rows[e].slot[i]];
      float* dst = y.ptr<float>() + rows[e].token[i] * Hd;
      const float* src = outs[e].ptr<float>() + i * Hd;
      for (int64_t c = 0; c < Hd; ++c) dst[c] += wi * src[c];
    }
  }
  Tape* tp = active_tape();
  bool any = tp && (tp->tracked(base) || tp->tracked(weights));
  for (const Tensor& o : outs) any = any || (tp && o.defined() && tp->tracked(o));
  if (any) {
    std::vector<Tensor> keep(outs);
    keep.push_back(base);
    keep.push_back(weights);
    tp->record(y, std::move(keep), [base, outs, rows, weights, y](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      const int64_t Hd = base.dim(1);
      const auto& K = kernels::kernels();
      if (t.tracked(base))
        K.add(t.grad(base).ptr<float>(), g->ptr<float>(), t.grad(base).ptr<float>(), base.numel());
      float* dw = t.tracked(weights) ? t.grad(weights).ptr<float>() : nullptr;
      for (size_t e = 0; e < outs.size(); ++e) {
        if (rows[e].token.empty()) continue;
        float* dout = t.tracked(outs[e]) ? t.grad(outs[e]).ptr<float>() : nullptr;
        for (size_t i = 0; i < rows[e].token.size(); ++i) {
          const float* gi = g->ptr<float>() + rows[e].token[i] * Hd;
          const float* oi = outs[e].ptr<float>() + i * Hd;
          if (dw) dw[rows[e].slot[i]] += K.dot(gi, oi, Hd);
          if (dout) K.axpy(weights.ptr<float>()[rows[e].slot[i]], gi, dout + i * Hd, Hd);
        }
      }
    });
  }
  return y;
}

namespace {

// One column range of one product: y[:, n0 : n1] = x . w[n0 : n1]^T.
struct ProductPart {
  const Tensor* x;
  const Weight* w;
  Tensor* y;
  int64_t n0, n1;
};

// Splits each product's columns into about `parts` ranges (whole fp8 blocks, else 64 columns)
// and runs them all in one thread-pool loop.
void run_products(std::vector<ProductPart> whole, int64_t parts) {
  std::vector<ProductPart> tasks;
  for (const ProductPart& p : whole) {
    if (p.w->w.dtype == DType::F8_E4M3) fp8_no_nan(*p.w);  // the scan runs outside the loop
    const int64_t N = p.n1 - p.n0, align = p.w->scale.defined() ? p.w->block_n : 64;
    const int64_t step = std::max(align, (N / parts + align - 1) / align * align);
    for (int64_t n0 = p.n0; n0 < p.n1; n0 += step)
      tasks.push_back({p.x, p.w, p.y, n0, std::min(p.n1, n0 + step)});
  }
  thread_pool().parallel_for(static_cast<int64_t>(tasks.size()), [&](int64_t i) {
    const ProductPart& t = tasks[static_cast<size_t>(i)];
    linear_columns(*t.x, *t.w, *t.y, t.n0, t.n1);
  });
}

}  // namespace

std::vector<Tensor> expert_ffns(const Tensor& h, const std::vector<ExpertRows>& rows,
                                const std::vector<ExpertFfn>& experts) {
  if (recording({&h})) fail_internal("expert_ffns: inference only (no tape)");
  R1_ASSERT(rows.size() == experts.size());
  const size_t E = rows.size();
  std::vector<Tensor> x(E), g(E), u(E), out(E);
  std::vector<ProductPart> first, second;
  for (size_t e = 0; e < E; ++e) {
    if (rows[e].token.empty()) continue;
    const ExpertFfn& f = experts[e];
    const int64_t n = static_cast<int64_t>(rows[e].token.size());
    x[e] = gather_rows(h, rows[e].token);
    g[e] = Tensor::empty(DType::F32, {n, f.gate->rows()});
    u[e] = Tensor::empty(DType::F32, {n, f.up->rows()});
    out[e] = Tensor::empty(DType::F32, {n, f.down->rows()});
    first.push_back({&x[e], f.gate, &g[e], 0, f.gate->rows()});
    first.push_back({&x[e], f.up, &u[e], 0, f.up->rows()});
    second.push_back({&g[e], f.down, &out[e], 0, f.down->rows()});
  }
  if (first.empty()) return out;
  // Enough ranges for every thread to find work: 4 per thread or more over all the products,
  // where they divide that finely (rounded up: 7 experts' down products at 2 threads were 7
  // tasks, one thread running 4 of them while the other waited).
  const int64_t threads = thread_pool().size();
  auto parts = [&](const std::vector<ProductPart>& v) {
    const int64_t n = static_cast<int64_t>(v.size());
    return (4 * threads + n - 1) / n;
  };
  run_products(first, parts(first));
  for (size_t e = 0; e < E; ++e)
    if (g[e].defined()) silu_mul_(g[e], u[e]);
  run_products(second, parts(second));
  return out;
}

}  // namespace r1::ops
