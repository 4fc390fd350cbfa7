// causal_attention (ops.h). Work is split into (sequence, kv head) tasks; each computes its
// heads' score blocks S = scale Q K^T with the GEMM kernel, so a task owns every row of dk/dv it
// writes and threads never share an output. The forward keeps only each row's log-sum-exp (the
// L x L blocks are scratch, per sequence, never stored on the tape); the backward recomputes
// P = exp(S - lse) block by block:
//   dP = dO V^T, dS = P (dP - rowsum(P dP)), dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO.
#include <cmath>
#include <cstring>
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
};

// A GEMM operand: a matrix with row stride ld, or its transpose (k-major, GemmParams).
struct Operand {
  const float* p;
  int64_t ld;
  bool trans = false;
};

// y[M, N] = x . w^T (accumulate: +=), x [M, Kd] and w [N, Kd] as Operands, y with row stride ldy.
void gemm(int64_t M, int64_t N, int64_t Kd, Operand x, Operand w, float* y, int64_t ldy,
          bool accumulate = false) {
  kernels::GemmParams p;
  p.M = M;
  p.K = Kd;
  p.x = x.p;
  p.ldx = x.ld;
  p.x_trans = x.trans;
  p.w = w.p;
  p.ldw = w.ld;
  p.w_trans = w.trans;
  p.y = y;
  p.ldy = ldy;
  p.n_begin = 0;
  p.n_end = N;
  p.accumulate = accumulate;
  p.bf16_dot = bf16_matmul();
  K().gemm(p);
}

// The sequences of the batch: [begin, end) token ranges.
std::vector<std::pair<int64_t, int64_t>> sequences(const std::vector<int32_t>& start) {
  std::vector<std::pair<int64_t, int64_t>> seqs;
  for (int64_t t = 0; t < static_cast<int64_t>(start.size()); ++t) {
    if (start[t] == t) seqs.push_back({t, t + 1});
    if (seqs.empty() || start[t] != seqs.back().first)
      fail_internal("causal_attention: token ", t, " starts at ", start[t],
                    "; sequences must be contiguous");
    seqs.back().second = t + 1;
  }
  return seqs;
}

// P = softmax rows of the causal block S (in place), given each row's log-sum-exp.
void probs_from_lse(float* S, int64_t L, const float* lse, int64_t lse_stride) {
  for (int64_t i = 0; i < L; ++i) {
    float* row = S + i * L;
    const float l = lse[i * lse_stride];
    K().exp_sum(row, l, i + 1);
    std::memset(row + i + 1, 0, (L - i - 1) * sizeof(float));
  }
}

// Per-thread scratch, reused across calls: per task at most two L x L blocks (L the sequence
// length).
struct Buffers {
  std::vector<float> S, dP;
};

void forward_task(const AttnShape& s, int64_t a, int64_t L, int64_t g, const Tensor& q,
                  const Tensor& k, const Tensor& v, Tensor& out, Tensor& lse) {
  thread_local Buffers b;
  b.S.resize(L * L);
  const int64_t ldq = s.n_heads * s.qk, ldk = s.n_kv * s.qk, ldv = s.n_kv * s.vd;
  const int64_t ldo = s.n_heads * s.vd;
  const Operand vg{v.ptr<float>() + a * ldv + g * s.vd, ldv, true};  // V^T's rows: V's columns
  for (int64_t h = g * s.group; h < (g + 1) * s.group; ++h) {
    gemm(L, L, s.qk, {q.ptr<float>() + a * ldq + h * s.qk, ldq},
         {k.ptr<float>() + a * ldk + g * s.qk, ldk}, b.S.data(), L);
    float* lrow = lse.ptr<float>() + a * s.n_heads + h;
    for (int64_t i = 0; i < L; ++i) {
      float* row = b.S.data() + i * L;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j <= i; ++j) row[j] *= s.scale;
      for (int64_t j = 0; j <= i; ++j) m = std::max(m, row[j]);
      const float sum = K().exp_sum(row, m, i + 1);
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
      std::memset(row + i + 1, 0, (L - i - 1) * sizeof(float));
      lrow[i * s.n_heads] = m + std::log(sum);
    }
    gemm(L, s.vd, L, {b.S.data(), L}, vg, out.ptr<float>() + a * ldo + h * s.vd, ldo);
  }
}

void backward_task(const AttnShape& s, int64_t a, int64_t L, int64_t g, const Tensor& q,
                   const Tensor& k, const Tensor& v, const Tensor& lse, const Tensor& dout,
                   float* dq, float* dk, float* dv) {
  thread_local Buffers b;
  const int64_t ldq = s.n_heads * s.qk, ldk = s.n_kv * s.qk, ldv = s.n_kv * s.vd;
  const int64_t ldo = s.n_heads * s.vd;
  b.S.resize(L * L);
  b.dP.resize(L * L);
  const float* kg = k.ptr<float>() + a * ldk + g * s.qk;
  const float* vg = v.ptr<float>() + a * ldv + g * s.vd;
  for (int64_t h = g * s.group; h < (g + 1) * s.group; ++h) {
    const float* qh = q.ptr<float>() + a * ldq + h * s.qk;
    const float* doh = dout.ptr<float>() + a * ldo + h * s.vd;
    gemm(L, L, s.qk, {qh, ldq}, {kg, ldk}, b.S.data(), L);
    for (int64_t i = 0; i < L; ++i)
      for (int64_t j = 0; j <= i; ++j) b.S[i * L + j] *= s.scale;
    probs_from_lse(b.S.data(), L, lse.ptr<float>() + a * s.n_heads + h, s.n_heads);
    gemm(L, L, s.vd, {doh, ldo}, {vg, ldv}, b.dP.data(), L);  // dP = dO V^T
    for (int64_t i = 0; i < L; ++i) {
      float* p = b.S.data() + i * L;
      float* d = b.dP.data() + i * L;
      const float delta = K().dot(p, d, i + 1);
      for (int64_t j = 0; j <= i; ++j) d[j] = s.scale * p[j] * (d[j] - delta);  // scale dS
      std::memset(d + i + 1, 0, (L - i - 1) * sizeof(float));
    }
    // The products below read dS, P, K, Q and dO transposed in place (GemmParams' k-major
    // operands) and add into the gradients.
    if (dq)  // dQ += (scale dS) K
      gemm(L, s.qk, L, {b.dP.data(), L}, {kg, ldk, true}, dq + a * ldq + h * s.qk, ldq, true);
    if (dk)  // dK += (scale dS)^T Q
      gemm(L, s.qk, L, {b.dP.data(), L, true}, {qh, ldq, true}, dk + a * ldk + g * s.qk, ldk, true);
    if (dv)  // dV += P^T dO
      gemm(L, s.vd, L, {b.S.data(), L, true}, {doh, ldo, true}, dv + a * ldv + g * s.vd, ldv, true);
  }
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
  const auto seqs = sequences(start);
  Tensor out = Tensor::zeros(DType::F32, {s.T, n_heads * v_dim});
  Tensor lse = Tensor::zeros(DType::F32, {s.T, n_heads});
  const int64_t tasks = static_cast<int64_t>(seqs.size()) * n_kv_heads;
  thread_pool().parallel_for(tasks, [&](int64_t task) {
    const auto [a, e] = seqs[task / n_kv_heads];
    forward_task(s, a, e - a, task % n_kv_heads, q, k, v, out, lse);
  });
  if (Tape* tp = recording({&q, &k, &v})) {
    tp->record(out, {q, k, v, lse}, [s, q, k, v, out, lse, seqs](Tape& t) {
      const Tensor* g = t.find_grad(out);
      if (!g) return;
      float* dq = t.tracked(q) ? t.grad(q).ptr<float>() : nullptr;
      float* dk = t.tracked(k) ? t.grad(k).ptr<float>() : nullptr;
      float* dv = t.tracked(v) ? t.grad(v).ptr<float>() : nullptr;
      const int64_t tasks = static_cast<int64_t>(seqs.size()) * s.n_kv;
      thread_pool().parallel_for(tasks, [&](int64_t task) {
        const auto [a, e] = seqs[task / s.n_kv];
        backward_task(s, a, e - a, task % s.n_kv, q, k, v, lse, *g, dq, dk, dv);
      });
    });
  }
  return out;
}

}  // namespace r1::ops
