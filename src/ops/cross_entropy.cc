// cross_entropy (ops.h): chunked next-token loss with its gradients formed during the forward.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/ops.h"
#include "ops/tape.h"

namespace r1::ops {

namespace {
// At most this many logits (floats) exist at once.
constexpr int64_t kChunkFloats = int64_t{1} << 22;
}  // namespace

Tensor cross_entropy(const Tensor& h, const Tensor& w, const std::vector<int32_t>& targets,
                     float scale, std::vector<float>* token_logprobs) {
  const int64_t T = h.dim(0), H = h.dim(1), V = w.dim(0);
  if (w.ndim() != 2 || w.dim(1) != H || static_cast<int64_t>(targets.size()) != T)
    fail_internal("cross_entropy: hidden ", h.shape_str(), ", output embedding ", w.shape_str(),
                  ", ", targets.size(), " targets");
  for (int32_t y : targets)
    if (y >= V) fail_input("target token id ", y, " is outside the vocabulary of ", V);
  Tape* tp = recording({&h, &w});
  const bool want_h = tp && tp->tracked(h), want_w = tp && tp->tracked(w);
  Tensor dh = want_h ? Tensor::zeros(DType::F32, {T, H}) : Tensor();
  Tensor dw = want_w ? Tensor::zeros(DType::F32, {V, H}) : Tensor();
  Tensor wt = want_h ? transpose(w) : Tensor();  // [H, V]
  if (token_logprobs) token_logprobs->assign(T, 0.0f);
  const int64_t rows = std::max<int64_t>(1, std::min(T, kChunkFloats / V));
  double total = 0;
  for (int64_t r0 = 0; r0 < T; r0 += rows) {
    const int64_t n = std::min(rows, T - r0);
    bool any = false;
    for (int64_t i = 0; i < n; ++i) any |= targets[r0 + i] >= 0;
    if (!any) continue;
    Tensor hc = Tensor::view_of(DType::F32, {n, H}, h.ptr<float>() + r0 * H, h.owner);
    Tensor logits;
    {
      NoGrad off;  // the chunk's logits and their products are not part of the tape
      logits = linear(hc, w);
    }
    for (int64_t i = 0; i < n; ++i) {
      float* z = logits.ptr<float>() + i * V;
      const int32_t y = targets[r0 + i];
      if (y < 0) {
        std::fill(z, z + V, 0.0f);
        continue;
      }
      float m = z[0];
      for (int64_t c = 1; c < V; ++c) m = std::max(m, z[c]);
      double sum = 0;
      for (int64_t c = 0; c < V; ++c) sum += std::exp(static_cast<double>(z[c] - m));
      const float lse = m + static_cast<float>(std::log(sum));
      const float lp = z[y] - lse;
      total -= lp;
      if (token_logprobs) (*token_logprobs)[r0 + i] = lp;
      if (want_h || want_w) {  // dz = scale (softmax - onehot)
        for (int64_t c = 0; c < V; ++c) z[c] = scale * std::exp(z[c] - lse);
        z[y] -= scale;
      }
    }
    NoGrad off;
    if (want_h) {
      Tensor d = linear(logits, wt);  // [n, H]
      std::copy_n(d.ptr<float>(), n * H, dh.ptr<float>() + r0 * H);
    }
    if (want_w) accumulate(dw, linear(transpose(logits), transpose(hc)));
  }
  Tensor loss = Tensor::zeros(DType::F32, {1});
  loss.ptr<float>()[0] = static_cast<float>(total * scale);
  if (tp) {
    tp->record(loss, {h, w, dh, dw}, [h, w, dh, dw, loss](Tape& t) {
      const Tensor* g = t.find_grad(loss);
      if (!g) return;
      const float s = g->ptr<float>()[0];
      if (dh.defined()) accumulate(t.grad(h), dh, s);
      if (dw.defined()) accumulate(t.grad(w), dw, s);
    });
  }
  return loss;
}

}  // namespace r1::ops
