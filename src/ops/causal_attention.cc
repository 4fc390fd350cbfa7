// causal_attention (ops.h): forward with saved log-sum-exps, and its backward in two passes that
// each own what they write (dq per query row; dk, dv per key row), so threads never share an
// output row.
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "ops/ops.h"
#include "ops/tape.h"

namespace r1::ops {

namespace {

const kernels::KernelTable& K() {
  return kernels::kernels();
}

struct AttnShape {
  int64_t T, n_heads, n_kv, qk, vd, group;
  float scale;
  const float* q(const Tensor& t, int64_t r, int64_t h) const {
    return t.ptr<float>() + r * n_heads * qk + h * qk;
  }
  const float* k(const Tensor& t, int64_t r, int64_t h) const {
    return t.ptr<float>() + r * n_kv * qk + (h / group) * qk;
  }
  const float* v(const Tensor& t, int64_t r, int64_t h) const {
    return t.ptr<float>() + r * n_kv * vd + (h / group) * vd;
  }
};

void backward(const AttnShape& s, const Tensor& q, const Tensor& k, const Tensor& v,
              const Tensor& out, const Tensor& lse, const std::vector<int32_t>& start,
              const Tensor& dout, Tape& t) {
  const int64_t T = s.T, nh = s.n_heads;
  // delta[t, h] = dout . out: the softmax backward's row term.
  std::vector<float> delta(T * nh);
  for (int64_t r = 0; r < T; ++r)
    for (int64_t h = 0; h < nh; ++h)
      delta[r * nh + h] = K().dot(dout.ptr<float>() + (r * nh + h) * s.vd,
                                  out.ptr<float>() + (r * nh + h) * s.vd, s.vd);
  const float* L = lse.ptr<float>();
  auto dout_at = [&](int64_t r, int64_t h) { return dout.ptr<float>() + (r * nh + h) * s.vd; };
  if (t.tracked(q)) {
    Tensor& dq = t.grad(q);
    thread_pool().parallel_for(T * nh, [&](int64_t task) {
      const int64_t r = task / nh, h = task % nh;
      float* d = dq.ptr<float>() + r * nh * s.qk + h * s.qk;
      const float* qv = s.q(q, r, h);
      for (int64_t j = start[r]; j <= r; ++j) {
        const float p = std::exp(s.scale * K().dot(qv, s.k(k, j, h), s.qk) - L[r * nh + h]);
        const float dp = K().dot(dout_at(r, h), s.v(v, j, h), s.vd);
        K().axpy(s.scale * p * (dp - delta[r * nh + h]), s.k(k, j, h), d, s.qk);
      }
    });
  }
  const bool want_k = t.tracked(k), want_v = t.tracked(v);
  if (!want_k && !want_v) return;
  float* dk = want_k ? t.grad(k).ptr<float>() : nullptr;
  float* dv = want_v ? t.grad(v).ptr<float>() : nullptr;
  // The end (exclusive) of each key row's sequence.
  std::vector<int64_t> end(T);
  for (int64_t r = T; r-- > 0;)
    end[r] = (r + 1 < T && start[r + 1] == start[r]) ? end[r + 1] : r + 1;
  thread_pool().parallel_for(T * s.n_kv, [&](int64_t task) {
    const int64_t j = task / s.n_kv, kvh = task % s.n_kv;
    for (int64_t h = kvh * s.group; h < (kvh + 1) * s.group; ++h) {
      const float *kj = s.k(k, j, h), *vj = s.v(v, j, h);
      for (int64_t r = j; r < end[j]; ++r) {
        const float* qv = s.q(q, r, h);
        const float p = std::exp(s.scale * K().dot(qv, kj, s.qk) - L[r * nh + h]);
        if (dv) K().axpy(p, dout_at(r, h), dv + j * s.n_kv * s.vd + kvh * s.vd, s.vd);
        if (dk) {
          const float dp = K().dot(dout_at(r, h), vj, s.vd);
          K().axpy(s.scale * p * (dp - delta[r * nh + h]), qv, dk + j * s.n_kv * s.qk + kvh * s.qk,
                   s.qk);
        }
      }
    }
  });
}

}  // namespace

std::vector<int32_t> sequence_starts(const std::vector<int32_t>& pos) {
  std::vector<int32_t> start(pos.size());
  for (size_t t = 0; t < pos.size(); ++t) {
    if (pos[t] != 0 && (t == 0 || pos[t] != pos[t - 1] + 1))
      fail_internal("sequence_starts: token ", t, " has position ", pos[t],
                    " but sequences must be packed from position 0 in order");
    start[t] = static_cast<int32_t>(t) - pos[t];
  }
  return start;
}

Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_heads,
                        int64_t n_kv_heads, int64_t qk_dim, int64_t v_dim,
                        const std::vector<int32_t>& start, float scale) {
  const AttnShape s{q.dim(0), n_heads, n_kv_heads, qk_dim, v_dim, n_heads / n_kv_heads, scale};
  if (q.dim(1) != n_heads * qk_dim || k.dim(0) != s.T || k.dim(1) != n_kv_heads * qk_dim ||
      v.dim(0) != s.T || v.dim(1) != n_kv_heads * v_dim || n_heads % n_kv_heads ||
      static_cast<int64_t>(start.size()) != s.T)
    fail_internal("causal_attention: shapes q", q.shape_str(), " k", k.shape_str(), " v",
                  v.shape_str(), " do not match ", n_heads, "/", n_kv_heads, " heads");
  Tensor out = Tensor::zeros(DType::F32, {s.T, n_heads * v_dim});
  Tensor lse = Tensor::zeros(DType::F32, {s.T, n_heads});
  thread_pool().parallel_for(s.T * n_heads, [&](int64_t task) {
    const int64_t r = task / n_heads, h = task % n_heads;
    const int64_t j0 = start[r], n = r - j0 + 1;
    thread_local std::vector<float> p;
    p.resize(n);
    const float* qv = s.q(q, r, h);
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j) {
      p[j] = scale * K().dot(qv, s.k(k, j0 + j, h), qk_dim);
      m = std::max(m, p[j]);
    }
    float sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - m));
    float* o = out.ptr<float>() + (r * n_heads + h) * v_dim;
    for (int64_t j = 0; j < n; ++j) K().axpy(p[j] / sum, s.v(v, j0 + j, h), o, v_dim);
    lse.ptr<float>()[r * n_heads + h] = m + std::log(sum);
  });
  if (Tape* tp = recording({&q, &k, &v})) {
    tp->record(out, {q, k, v, lse}, [s, q, k, v, out, lse, start](Tape& t) {
      if (const Tensor* g = t.find_grad(out)) backward(s, q, k, v, out, lse, start, *g, t);
    });
  }
  return out;
}

}  // namespace r1::ops
