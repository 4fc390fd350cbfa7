// token_logprobs (ops.h): per-token log-probabilities of targets for policy-gradient losses, with
// a backward that recomputes each chunk of logits instead of keeping them.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/ops.h"
#include "ops/tape.h"

namespace r1::ops {

namespace {

// At most this many logits (floats) exist at once.
constexpr int64_t kChunkFloats = int64_t{1} << 22;

// The logits of rows [r0, r0 + n) of h divided by the temperature, [n, V]; lse[i] receives the
// log-sum-exp of row i of them.
Tensor chunk_softmax(const Tensor& h, const Tensor& w, int64_t r0, int64_t n, float inv_temp,
                     std::vector<double>& lse) {
  const int64_t H = h.dim(1), V = w.dim(0);
  Tensor hc = Tensor::view_of(DType::F32, {n, H}, h.ptr<float>() + r0 * H, h.owner);
  Tensor z;
  {
    NoGrad off;
    z = linear(hc, w);
  }
  lse.assign(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    float* row = z.ptr<float>() + i * V;
    float m = -INFINITY;
    for (int64_t c = 0; c < V; ++c) m = std::max(m, row[c] *= inv_temp);
    double sum = 0;
    for (int64_t c = 0; c < V; ++c) sum += std::exp(static_cast<double>(row[c] - m));
    lse[static_cast<size_t>(i)] = m + std::log(sum);
  }
  return z;
}

}  // namespace

Tensor token_logprobs(const Tensor& h, const Tensor& w, const std::vector<int32_t>& targets,
                      float temperature, std::vector<float>* entropy) {
  const int64_t T = h.dim(0), H = h.dim(1), V = w.dim(0);
  if (w.ndim() != 2 || w.dim(1) != H || static_cast<int64_t>(targets.size()) != T)
    fail_internal("token_logprobs: hidden ", h.shape_str(), ", output embedding ", w.shape_str(),
                  ", ", targets.size(), " targets");
  if (!(temperature > 0)) fail_internal("token_logprobs: temperature ", temperature);
  for (int32_t y : targets)
    if (y >= V) fail_input("target token id ", y, " is outside the vocabulary of ", V);
  const float inv_temp = 1.0f / temperature;
  const int64_t rows = std::max<int64_t>(1, std::min(T, kChunkFloats / V));
  Tensor lp = Tensor::zeros(DType::F32, {T});
  if (entropy) entropy->assign(static_cast<size_t>(T), 0.0f);
  std::vector<double> lse;
  for (int64_t r0 = 0; r0 < T; r0 += rows) {
    const int64_t n = std::min(rows, T - r0);
    if (std::none_of(targets.begin() + r0, targets.begin() + r0 + n,
                     [](int32_t y) { return y >= 0; }))
      continue;
    Tensor z = chunk_softmax(h, w, r0, n, inv_temp, lse);
    for (int64_t i = 0; i < n; ++i) {
      const int32_t y = targets[r0 + i];
      if (y < 0) continue;
      const float* row = z.ptr<float>() + i * V;
      const double l = lse[static_cast<size_t>(i)];
      lp.ptr<float>()[r0 + i] = static_cast<float>(row[y] - l);
      if (entropy) {  // H = lse - sum p z
        double pz = 0;
        for (int64_t c = 0; c < V; ++c) pz += std::exp(row[c] - l) * row[c];
        (*entropy)[r0 + i] = static_cast<float>(l - pz);
      }
    }
  }
  Tape* tp = recording({&h, &w});
  if (!tp) return lp;
  const bool want_h = tp->tracked(h), want_w = tp->tracked(w);
  tp->record(lp, {h, w}, [h, w, targets, inv_temp, rows, want_h, want_w, lp](Tape& t) {
    const Tensor* g = t.find_grad(lp);
    if (!g) return;
    const int64_t T = h.dim(0), H = h.dim(1), V = w.dim(0);
    NoGrad off;
    Tensor wt = want_h ? transpose(w) : Tensor();  // [H, V]
    std::vector<double> lse;
    for (int64_t r0 = 0; r0 < T; r0 += rows) {
      const int64_t n = std::min(rows, T - r0);
      bool any = false;
      for (int64_t i = 0; i < n; ++i) any |= targets[r0 + i] >= 0 && g->ptr<float>()[r0 + i] != 0;
      if (!any) continue;
      Tensor dz = chunk_softmax(h, w, r0, n, inv_temp, lse);  // becomes dL/dz in place
      for (int64_t i = 0; i < n; ++i) {
        float* row = dz.ptr<float>() + i * V;
        const int32_t y = targets[r0 + i];
        const float gi = y >= 0 ? g->ptr<float>()[r0 + i] * inv_temp : 0.0f;
        if (gi == 0) {
          std::fill(row, row + V, 0.0f);
          continue;
        }
        const double l = lse[static_cast<size_t>(i)];
        for (int64_t c = 0; c < V; ++c) row[c] = -gi * static_cast<float>(std::exp(row[c] - l));
        row[y] += gi;
      }
      if (want_h) {
        Tensor d = linear(dz, wt);  // [n, H]
        Tensor dst =
            Tensor::view_of(DType::F32, {n, H}, t.grad(h).ptr<float>() + r0 * H, t.grad(h).owner);
        accumulate(dst, d);
      }
      if (want_w) {
        Tensor hc = Tensor::view_of(DType::F32, {n, H}, h.ptr<float>() + r0 * H, h.owner);
        accumulate(t.grad(w), linear(transpose(dz), transpose(hc)));
      }
    }
  });
  return lp;
}

}  // namespace r1::ops
