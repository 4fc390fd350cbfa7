#include "ops/ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/kernels.h"

namespace r1::ops {

namespace {

const kernels::KernelTable& K() {
  return kernels::kernels();
}

void check_f32_matrix(const Tensor& x, const char* what) {
  if (x.dtype != DType::F32 || x.ndim() != 2 || !x.is_contiguous())
    fail_internal(what, ": expected a contiguous 2-D f32 tensor, got ", dtype_name(x.dtype),
                  x.shape_str());
}

// Output columns per thread chunk: whole cache lines of y and enough rows of w per task.
constexpr int64_t kColumnAlign = 64;
// Below this many multiply-adds an op runs on the calling thread: waking the pool costs more
// (and on a busy machine a descheduled worker can stall the caller for a whole time slice).
constexpr int64_t kMinParallelWork = 1 << 17;

}  // namespace

void widen_rows(const Weight& w, int64_t row0, int64_t n, float* out) {
  const int64_t cols = w.cols();
  R1_ASSERT(row0 >= 0 && row0 + n <= w.rows());
  for (int64_t r = 0; r < n; ++r) {
    float* o = out + r * cols;
    K().to_f32(w.w.row(row0 + r), w.w.dtype, o, cols);
    if (w.scale.defined()) {
      // One scale per block of block_k columns (a loop per block: no division per element).
      const float* s = w.scale.ptr<float>() + ((row0 + r) / w.block_n) * w.scale.dim(1);
      for (int64_t k0 = 0, b = 0; k0 < cols; k0 += w.block_k, ++b) {
        const float scale = s[b];
        const int64_t k1 = std::min(cols, k0 + w.block_k);
        for (int64_t k = k0; k < k1; ++k) o[k] *= scale;
      }
    }
  }
}

namespace {

std::atomic<bool> g_fast_bf16{false};

// y[:, n0 : n1] = x . w[n0 : n1]^T. For fp8 weights n0 is a multiple of block_n.
void gemm_columns(const Tensor& x, const Weight& w, Tensor& y, int64_t n0, int64_t n1) {
  kernels::GemmParams p;
  p.M = x.dim(0);
  p.K = x.dim(1);
  p.x = x.ptr<float>();
  p.ldx = x.dim(1);
  p.w = w.w.row(n0);
  p.ldw = w.w.strides[0];
  p.wtype = w.w.dtype;
  p.bf16_dot = p.wtype == DType::BF16 && fast_bf16();
  if (w.scale.defined()) {
    p.w_scale = w.scale.ptr<float>() + (n0 / w.block_n) * w.scale.dim(1);
    p.ld_scale = w.scale.dim(1);
    p.block_n = w.block_n;
    p.block_k = w.block_k;
  }
  p.y = y.ptr<float>() + n0;
  p.ldy = y.dim(1);
  p.n_begin = 0;
  p.n_end = n1 - n0;
  K().gemm(p);
}

}  // namespace

void set_fast_bf16(bool on) {
  g_fast_bf16.store(on);
}
bool fast_bf16() {
  return g_fast_bf16.load();
}

Tensor linear(const Tensor& x, const Weight& w, const Tensor* bias) {
  check_f32_matrix(x, "linear input");
  if (w.w.ndim() != 2 || w.cols() != x.dim(1))
    fail_internal("linear: weight ", w.w.shape_str(), " does not match input ", x.shape_str());
  const int64_t M = x.dim(0), Kdim = x.dim(1), N = w.rows();
  Tensor y = Tensor::zeros(DType::F32, {M, N});
  // fp8 chunks start at block boundaries so that each chunk's scales are whole rows of blocks.
  const int64_t align = w.scale.defined() ? w.block_n : kColumnAlign;
  auto run = [&](int64_t n0, int64_t n1) { gemm_columns(x, w, y, n0, n1); };
  if (M * N * Kdim < kMinParallelWork) {
    run(0, N);
  } else {
    thread_pool().parallel_range(N, align, run);
  }
  if (bias) {
    std::vector<float> b(N);
    K().to_f32(bias->data, bias->dtype, b.data(), N);
    for (int64_t m = 0; m < M; ++m)
      K().add(y.ptr<float>() + m * N, b.data(), y.ptr<float>() + m * N, N);
  }
  return y;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  Weight wt;
  wt.w = w;
  return linear(x, wt, bias);
}

Tensor rms_norm(const Tensor& x, const Tensor& w, float eps) {
  check_f32_matrix(x, "rms_norm input");
  const int64_t T = x.dim(0), H = x.dim(1);
  if (w.numel() != H) fail_internal("rms_norm: weight ", w.shape_str(), " for rows of ", H);
  Tensor y = Tensor::zeros(DType::F32, {T, H});
  for (int64_t t = 0; t < T; ++t)
    K().rms_norm(x.ptr<float>() + t * H, w.data, w.dtype, eps, y.ptr<float>() + t * H, H);
  return y;
}

Tensor embedding(const Tensor& table, const std::vector<int32_t>& ids) {
  const int64_t V = table.dim(0), H = table.dim(1);
  Tensor y = Tensor::zeros(DType::F32, {static_cast<int64_t>(ids.size()), H});
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= V)
      fail_input("token id ", ids[i], " is outside the model's vocabulary of ", V);
    K().to_f32(table.row(ids[i]), table.dtype, y.ptr<float>() + i * H, H);
  }
  return y;
}

void rope_half(Tensor& x, int64_t n_heads, const Tensor& cos, const Tensor& sin) {
  const int64_t T = x.dim(0), D = x.dim(1) / n_heads, half = D / 2;
  R1_ASSERT(cos.dim(0) == T && cos.dim(1) == half);
  for (int64_t t = 0; t < T; ++t) {
    const float* c = cos.ptr<float>() + t * half;
    const float* s = sin.ptr<float>() + t * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x.ptr<float>() + t * x.dim(1) + h * D;
      for (int64_t i = 0; i < half; ++i) {
        float a = v[i], b = v[i + half];
        v[i] = a * c[i] - b * s[i];
        v[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

void silu_mul_(Tensor& g, const Tensor& u) {
  R1_ASSERT(g.numel() == u.numel());
  K().silu_mul(g.ptr<float>(), u.ptr<float>(), g.ptr<float>(), g.numel());
}

void add_(Tensor& y, const Tensor& x) {
  R1_ASSERT(y.numel() == x.numel());
  K().add(y.ptr<float>(), x.ptr<float>(), y.ptr<float>(), y.numel());
}

Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows) {
  const int64_t H = x.dim(1);
  Tensor y = Tensor::zeros(DType::F32, {static_cast<int64_t>(rows.size()), H});
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(y.ptr<float>() + i * H, x.ptr<float>() + rows[i] * H, H * sizeof(float));
  return y;
}

Tensor attention(const Tensor& q, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                 const std::vector<KvSpan>& kv, const std::vector<int32_t>& pos, int64_t pos_stride,
                 float scale) {
  const int64_t T = q.dim(0), group = n_heads / n_kv_heads;
  Tensor out = Tensor::zeros(DType::F32, {T, n_heads * head_dim});
  int64_t work = 0;
  for (int64_t t = 0; t < T; ++t) work += 2 * (pos[t] + 1) * n_heads * head_dim;
  auto head = [&](int64_t task) {
    const int64_t t = task / n_heads, h = task % n_heads, kvh = h / group;
    const int64_t n = pos[t] + 1;
    const float* qv = q.ptr<float>() + t * n_heads * head_dim + h * head_dim;
    float* o = out.ptr<float>() + t * n_heads * head_dim + h * head_dim;
    thread_local std::vector<float> scores;
    scores.resize(n);
    for (int64_t j = 0; j < n; ++j)
      scores[j] = scale * K().dot(qv, kv[t].k + j * pos_stride + kvh * head_dim, head_dim);
    K().softmax(scores.data(), n);
    for (int64_t j = 0; j < n; ++j)
      K().axpy(scores[j], kv[t].v + j * pos_stride + kvh * head_dim, o, head_dim);
  };
  if (work < kMinParallelWork) {
    for (int64_t task = 0; task < T * n_heads; ++task) head(task);
  } else {
    thread_pool().parallel_for(T * n_heads, head);
  }
  return out;
}

void log_softmax_(Tensor& logits) {
  const int64_t T = logits.dim(0), V = logits.dim(1);
  for (int64_t t = 0; t < T; ++t) {
    float* r = logits.ptr<float>() + t * V;
    float mx = -INFINITY;
    for (int64_t i = 0; i < V; ++i) mx = std::max(mx, r[i]);
    double sum = 0;
    for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(r[i] - mx));
    float lse = mx + static_cast<float>(std::log(sum));
    for (int64_t i = 0; i < V; ++i) r[i] -= lse;
  }
}

}  // namespace r1::ops
