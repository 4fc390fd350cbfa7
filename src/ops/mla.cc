#include "ops/mla.h"

#include <map>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/kernels.h"

namespace r1::ops {

namespace {
const kernels::KernelTable& K() {
  return kernels::kernels();
}
}  // namespace

void rope_interleaved(Tensor& x, int64_t n_heads, int64_t head_stride, int64_t offset,
                      const Tensor& cos, const Tensor& sin) {
  const int64_t T = x.dim(0), half = cos.dim(1);
  R1_ASSERT(cos.dim(0) == T && offset + 2 * half <= head_stride &&
            n_heads * head_stride <= x.dim(1));
  for (int64_t t = 0; t < T; ++t) {
    const float* c = cos.ptr<float>() + t * half;
    const float* s = sin.ptr<float>() + t * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x.ptr<float>() + t * x.dim(1) + h * head_stride + offset;
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * c[i] - b * s[i];
        v[2 * i + 1] = b * c[i] + a * s[i];
      }
    }
  }
}

Tensor mla_absorbed(const Tensor& q, const Weight& kv_b, const MlaShape& s,
                    const std::vector<LatentSpan>& spans, const std::vector<int32_t>& pos) {
  const int64_t T = q.dim(0), H = s.n_heads, qw = s.nope + s.rope, kvw = s.nope + s.v;
  const int64_t R = s.lora, row = s.lora + s.rope;
  R1_ASSERT(kv_b.rows() == H * kvw && kv_b.cols() == R && q.dim(1) == H * qw);
  // q_lat[t, h] = sum_i q_nope[t, h, i] * W_k[h][i, :]        [T, H, lora]
  Tensor q_lat = Tensor::zeros(DType::F32, {T, H * R});
  thread_pool().parallel_for(H, [&](int64_t h) {
    std::vector<float> wrow(R);
    for (int64_t i = 0; i < s.nope; ++i) {
      widen_rows(kv_b, h * kvw + i, 1, wrow.data());
      for (int64_t t = 0; t < T; ++t)
        K().axpy(q.ptr<float>()[t * q.dim(1) + h * qw + i], wrow.data(),
                 q_lat.ptr<float>() + (t * H + h) * R, R);
    }
  });
  // o_lat[t, h] = sum_j softmax_j(scale * (q_lat . c_j + q_pe . k_pe_j)) c_j   [T, H, lora]
  Tensor o_lat = Tensor::zeros(DType::F32, {T, H * R});
  thread_pool().parallel_for(T * H, [&](int64_t task) {
    const int64_t t = task / H, h = task % H, n = pos[t] + 1;
    const float* ql = q_lat.ptr<float>() + (t * H + h) * R;
    const float* qp = q.ptr<float>() + t * q.dim(1) + h * qw + s.nope;
    thread_local std::vector<float> p;
    p.resize(n);
    for (int64_t j = 0; j < n; ++j) {
      const float* r = spans[t].rows + j * row;
      p[j] = s.scale * (K().dot(ql, r, R) + K().dot(qp, r + R, s.rope));
    }
    K().softmax(p.data(), n);
    float* o = o_lat.ptr<float>() + (t * H + h) * R;
    for (int64_t j = 0; j < n; ++j) K().axpy(p[j], spans[t].rows + j * row, o, R);
  });
  // out[t, h] = o_lat[t, h] . W_v[h]^T                          [T, H, v]
  Tensor out = Tensor::zeros(DType::F32, {T, H * s.v});
  thread_pool().parallel_for(H, [&](int64_t h) {
    std::vector<float> wv(s.v * R);
    widen_rows(kv_b, h * kvw + s.nope, s.v, wv.data());
    kernels::GemmParams g;
    g.M = T;
    g.K = R;
    g.x = o_lat.ptr<float>() + h * R;
    g.ldx = H * R;
    g.w = wv.data();
    g.ldw = R;
    g.wtype = DType::F32;
    g.y = out.ptr<float>() + h * s.v;
    g.ldy = H * s.v;
    g.n_begin = 0;
    g.n_end = s.v;
    K().gemm(g);
  });
  return out;
}

Tensor mla_naive(const Tensor& q, const Weight& kv_b, const MlaShape& s,
                 const std::vector<LatentSpan>& spans, const std::vector<int32_t>& pos) {
  const int64_t T = q.dim(0), H = s.n_heads, qw = s.nope + s.rope, kvw = s.nope + s.v;
  const int64_t R = s.lora, row = s.lora + s.rope;
  // Expand keys and values of every cached position of each sequence once.
  std::map<const float*, int64_t> longest;  // sequence -> positions needed
  for (int64_t t = 0; t < T; ++t)
    longest[spans[t].rows] = std::max<int64_t>(longest[spans[t].rows], pos[t] + 1);
  std::map<const float*, Tensor> kv;  // sequence -> [n, H * (nope + v)]
  for (const auto& [rows, n] : longest) {
    Tensor c = Tensor::zeros(DType::F32, {n, R});
    for (int64_t j = 0; j < n; ++j) std::copy_n(rows + j * row, R, c.ptr<float>() + j * R);
    kv[rows] = linear(c, kv_b);
  }
  Tensor out = Tensor::zeros(DType::F32, {T, H * s.v});
  std::vector<float> k(qw), p;
  for (int64_t t = 0; t < T; ++t) {
    const Tensor& e = kv[spans[t].rows];
    const int64_t n = pos[t] + 1;
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = q.ptr<float>() + t * q.dim(1) + h * qw;
      p.resize(n);
      for (int64_t j = 0; j < n; ++j) {
        std::copy_n(e.ptr<float>() + j * H * kvw + h * kvw, s.nope, k.data());
        std::copy_n(spans[t].rows + j * row + R, s.rope, k.data() + s.nope);
        p[j] = s.scale * K().dot(qh, k.data(), qw);
      }
      K().softmax(p.data(), n);
      float* o = out.ptr<float>() + t * H * s.v + h * s.v;
      for (int64_t j = 0; j < n; ++j)
        K().axpy(p[j], e.ptr<float>() + j * H * kvw + h * kvw + s.nope, o, s.v);
    }
  }
  return out;
}

}  // namespace r1::ops
