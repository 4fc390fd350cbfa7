#include "ops/ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/quant_pack.h"
#include "core/threads.h"
#include "kernels/gemm_fp8.h"
#include "kernels/kernels.h"
#include "ops/tape.h"

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
// X rows from which Q8_0 and packed 4-6-bit W use bf16 panels when bf16 dot products are on
// (uses_bf16_dot; measured in bench/README.md).
constexpr int64_t kBlockBf16MinRows = 48;
// Prompt tokens per attention task (ops::attention): their heads that share a kv head read the
// cached rows together, as the rows of GEMM-shaped kernels.
constexpr int64_t kAttnTileTokens = 32;
// Decode attention splits a token's cached rows over several tasks only in parts of at least
// this many rows (a part of 256 f32 rows of head 128 reads 256 KiB of keys and values).
constexpr int64_t kAttnPartRows = 256;
// At most this many scores per attention tile (its query rows times the positions its last token
// sees: 16 MB), so that long contexts take fewer tokens per tile.
constexpr int64_t kTileScores = int64_t{1} << 22;

// fn(i0, i1) over [0, n): on the thread pool in chunks of 4096 elements when n is large enough to
// gain from it (element-wise ops over a whole batch: prefill, training), else on this thread.
void for_elements(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n < kMinParallelWork) {
    fn(0, n);
  } else {
    thread_pool().parallel_range(n, 4096, fn);
  }
}

}  // namespace

namespace {
// Row r of a 2-D weight or table in f32 (a packed layout's row is spread over its group).
void widen_row(const Tensor& t, int64_t r, float* out) {
  if (is_packed_type(t.dtype)) return dequantize_packed_row(t.dtype, t.data, r, out, t.dim(1));
  K().to_f32(t.row(r), t.dtype, out, t.dim(1));
}
}  // namespace

void widen_rows(const Weight& w, int64_t row0, int64_t n, float* out) {
  const int64_t cols = w.cols();
  R1_ASSERT(row0 >= 0 && row0 + n <= w.rows());
  for (int64_t r = 0; r < n; ++r) {
    float* o = out + r * cols;
    widen_row(w.w, row0 + r, o);
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

bool fp8_no_nan(const Weight& w) {
  if (!w.fp8_scan || w.w.dtype != DType::F8_E4M3 || !w.w.is_contiguous()) return false;
  Fp8Scan& s = *w.fp8_scan;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.data != w.w.data) {
    std::atomic<bool> nan{false};
    thread_pool().parallel_range(w.rows(), 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1 && !nan.load(std::memory_order_relaxed); ++r)
        if (kernels::fp8_has_nan(static_cast<const uint8_t*>(w.w.row(r)), w.cols())) nan = true;
    });
    s.data = w.w.data;
    s.no_nan = !nan;
  }
  return s.no_nan;
}

namespace {

std::atomic<bool> g_fast_bf16{false}, g_bf16_matmul{false};

// Whether products of M rows with W of this dtype use bf16 dot products (GemmParams::bf16_dot).
// Q8_0 and the packed 4-6-bit layouts take them from kBlockBf16MinRows rows on, where the AVX-512
// kernels' bf16 panels (each dequantized once for all rows) outrun their int8 dot products; fewer
// rows (decode) stay on the int8 kernels, which read less per weight. fp8 takes them for any
// number of rows on AVX-512: below kFp8Bf16PanelMinM rows through its fused bf16 kernel where
// the CPU has it, from there on through bf16 panels.
bool uses_bf16_dot(DType wtype, bool bf16_dot, int64_t M) {
  if (!bf16_dot) return false;
  if (wtype == DType::BF16 || (wtype == DType::F32 && bf16_matmul())) return true;
  if (wtype == DType::F8_E4M3)
    return K().isa == kernels::Isa::Avx512 &&
           (M >= kernels::kFp8Bf16PanelMinM || cpu_features().has_avx512_fp8_bf16());
  return (wtype == DType::Q8_0 || is_packed_type(wtype)) && M >= kBlockBf16MinRows &&
         K().isa == kernels::Isa::Avx512;
}

// X rounded to bf16 once for every column range's GEMM call (GemmParams::xb), its rows split over
// the thread pool, for a product of `work` = M N K multiply-adds. Empty where the product runs as
// one call on this thread (the kernel converts X itself then) and where the kernels have no bf16
// dot products (they would ignore it).
struct Bf16X {
  std::vector<uint16_t> rows;
  int64_t ld = 0;
};
Bf16X bf16_x(const float* x, int64_t ldx, bool x_trans, int64_t M, int64_t Kdim, int64_t work) {
  Bf16X b;
  if (K().isa != kernels::Isa::Avx512 || work < kMinParallelWork || thread_pool().size() == 1)
    return b;
  b.ld = (Kdim + 31) / 32 * 32;
  b.rows.resize(static_cast<size_t>(M * b.ld));
  auto part = [&](int64_t m0, int64_t m1) {
    K().x_to_bf16(x_trans ? x + m0 : x + m0 * ldx, ldx, x_trans, m1 - m0, Kdim,
                  b.rows.data() + m0 * b.ld, b.ld);
  };
  if (M * Kdim < kMinParallelWork) {
    part(0, M);
  } else {
    thread_pool().parallel_range(M, 16, part);
  }
  return b;
}

// The W side of a product with rows [n0, n1) of w: pointer, stride, dtype, fp8 block scales
// (fp8_slice_block) and the output range [0, n1 - n0).
void set_weight_rows(kernels::GemmParams& p, const Weight& w, int64_t n0, int64_t n1,
                     bool w_no_nan) {
  p.w = w.w.row(n0);
  p.ldw = w.w.strides[0];
  p.wtype = w.w.dtype;
  if (w.scale.defined()) {
    p.w_scale = w.scale.ptr<float>() + (n0 / w.block_n) * w.scale.dim(1);
    p.ld_scale = w.scale.dim(1);
    p.block_n = fp8_slice_block(n0, n1 - n0, w.block_n);
    R1_ASSERT(p.block_n > 0);
    p.block_k = w.block_k;
    p.w_no_nan = w_no_nan;
  }
  p.n_begin = 0;
  p.n_end = n1 - n0;
}

// y[:, n0 : n1] = x . w[n0 : n1]^T. For fp8 weights n0 is a multiple of block_n.
void gemm_columns(const Tensor& x, const Weight& w, Tensor& y, int64_t n0, int64_t n1,
                  bool bf16_dot, bool w_no_nan, const int8_t* xq = nullptr,
                  const float* xd = nullptr, const Bf16X* xb = nullptr) {
  kernels::GemmParams p;
  p.M = x.dim(0);
  p.K = x.dim(1);
  p.x = x.ptr<float>();
  p.ldx = x.dim(1);
  set_weight_rows(p, w, n0, n1, w_no_nan);
  p.bf16_dot = uses_bf16_dot(p.wtype, bf16_dot, p.M);
  if (p.bf16_dot && xb && !xb->rows.empty()) {
    p.xb = xb->rows.data();
    p.ldxb = xb->ld;
  }
  p.y = y.ptr<float>() + n0;
  p.ldy = y.dim(1);
  p.xq = xq;
  p.xd = xd;
  K().gemm(p);
}

}  // namespace

void gemm_f32(int64_t M, int64_t N, int64_t depth, const float* a, int64_t lda, bool a_trans,
              const float* b, int64_t ldb, bool b_trans, float* y, bool accumulate) {
  const bool bf16 = bf16_matmul();
  const Bf16X ab = bf16 ? bf16_x(a, lda, a_trans, M, depth, M * N * depth) : Bf16X{};
  auto run = [&](int64_t n0, int64_t n1) {
    kernels::GemmParams p;
    p.M = M;
    p.K = depth;
    p.x = a;
    p.ldx = lda;
    p.x_trans = a_trans;
    p.w = b_trans ? b + n0 : b + n0 * ldb;
    p.ldw = ldb;
    p.w_trans = b_trans;
    p.y = y + n0;
    p.ldy = N;
    p.n_begin = 0;
    p.n_end = n1 - n0;
    p.accumulate = accumulate;
    p.bf16_dot = bf16;
    if (!ab.rows.empty()) {
      p.xb = ab.rows.data();
      p.ldxb = ab.ld;
    }
    K().gemm(p);
  };
  if (M * N * depth < kMinParallelWork) {
    run(0, N);
  } else {
    thread_pool().parallel_range(N, kColumnAlign, run);
  }
}

void accumulate_grad(Tape& t, const Tensor& x, const Tensor& g, float scale) {
  bool fresh = false;
  Tensor& d = t.grad_to_write(x, &fresh);
  R1_ASSERT(d.numel() == g.numel());
  const int64_t n = g.numel();
  const float* src = g.ptr<float>();
  float* dst = d.ptr<float>();
  auto part = [&](int64_t i0, int64_t i1) {
    if (fresh && scale == 1.0f) {
      std::memcpy(dst + i0, src + i0, static_cast<size_t>(i1 - i0) * sizeof(float));
    } else if (fresh) {
      for (int64_t i = i0; i < i1; ++i) dst[i] = scale * src[i];
    } else if (scale == 1.0f) {
      K().add(dst + i0, src + i0, dst + i0, i1 - i0);
    } else {
      K().axpy(scale, src + i0, dst + i0, i1 - i0);
    }
  };
  for_elements(n, part);
}

// d[rows[i]] += g[i] for each row i of g (the backward of a row gather).
template <typename Index>
void scatter_add_rows(Tensor& d, const Tensor& g, const std::vector<Index>& rows) {
  const int64_t H = d.dim(1);
  for (size_t i = 0; i < rows.size(); ++i) {
    float* dst = d.ptr<float>() + static_cast<int64_t>(rows[i]) * H;
    K().add(dst, g.ptr<float>() + static_cast<int64_t>(i) * H, dst, H);
  }
}

void set_fast_bf16(bool on) {
  g_fast_bf16.store(on);
}
bool fast_bf16() {
  return g_fast_bf16.load();
}
void set_bf16_matmul(bool on) {
  g_bf16_matmul.store(on);
}
bool bf16_matmul() {
  return g_bf16_matmul.load();
}

Tensor linear(const Tensor& x, const Weight& w, const Tensor* bias) {
  return linear(x, w, bias, fast_bf16() || bf16_matmul());
}

int64_t fp8_slice_block(int64_t n0, int64_t n, int64_t block_n) {
  if (n0 % block_n == 0) return block_n;
  return n0 / block_n == (n0 + n - 1) / block_n ? n : 0;
}

void weight_rows_product(const float* x, int64_t ldx, int64_t M, const Weight& w, int64_t n0,
                         int64_t n1, bool w_no_nan, float* y, int64_t ldy) {
  kernels::GemmParams p;
  p.M = M;
  p.K = w.cols();
  p.x = x;
  p.ldx = ldx;
  set_weight_rows(p, w, n0, n1, w_no_nan);
  p.bf16_dot = uses_bf16_dot(p.wtype, fast_bf16() || bf16_matmul(), M);
  p.y = y;
  p.ldy = ldy;
  K().gemm(p);
}

void linear_columns(const Tensor& x, const Weight& w, Tensor& y, int64_t n0, int64_t n1) {
  check_f32_matrix(x, "linear input");
  R1_ASSERT(w.cols() == x.dim(1) && y.dim(0) == x.dim(0) && y.dim(1) == w.rows() && n0 <= n1);
  const bool no_nan = w.w.dtype == DType::F8_E4M3 && w.fp8_scan && fp8_no_nan(w);
  gemm_columns(x, w, y, n0, n1, fast_bf16() || bf16_matmul(), no_nan);
}

Tensor linear_exact(const Tensor& x, const Weight& w) {
  return linear(x, w, nullptr, false);
}

Tensor linear(const Tensor& x, const Weight& w, const Tensor* bias, bool bf16_dot) {
  check_f32_matrix(x, "linear input");
  if (w.w.ndim() != 2 || w.cols() != x.dim(1))
    fail_internal("linear: weight ", w.w.shape_str(), " does not match input ", x.shape_str());
  const int64_t M = x.dim(0), Kdim = x.dim(1), N = w.rows();
  Tensor y = Tensor::empty(DType::F32, {M, N});
  // fp8 chunks start at block boundaries so that each chunk's scales are whole rows of blocks.
  const int64_t align = w.scale.defined() ? w.block_n : kColumnAlign;
  // Block-quantized weights: X is quantized once here, not in every column range's call (or
  // rounded to bf16 once, below).
  const bool bf16 = uses_bf16_dot(w.w.dtype, bf16_dot, M);
  std::vector<int8_t> xq;
  std::vector<float> xd;
  if (!bf16 && is_block_type(w.w.dtype) && Kdim % dtype_block(w.w.dtype) == 0) {
    const int64_t nb = Kdim / kQ8Block;
    xq.resize(static_cast<size_t>(M * Kdim));
    xd.resize(static_cast<size_t>(M * nb));
    for (int64_t m = 0; m < M; ++m)
      K().quantize_x_q8(x.ptr<float>() + m * Kdim, Kdim, xq.data() + m * Kdim, xd.data() + m * nb);
  }
  const bool no_nan = fp8_no_nan(w);
  // (fp8's fused kernel rounds X times the block scales itself.)
  const Bf16X xb = bf16 && (w.w.dtype != DType::F8_E4M3 || M >= kernels::kFp8Bf16PanelMinM)
                       ? bf16_x(x.ptr<float>(), Kdim, false, M, Kdim, M * N * Kdim)
                       : Bf16X{};
  auto run = [&](int64_t n0, int64_t n1) {
    gemm_columns(x, w, y, n0, n1, bf16_dot, no_nan, xq.empty() ? nullptr : xq.data(),
                 xd.empty() ? nullptr : xd.data(), &xb);
  };
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
  if (Tape* tp = recording({&x, &w.w, bias})) {
    Tensor b = bias ? *bias : Tensor();
    tp->record(y, {x, w.w, w.scale, b}, [x, w, b, y](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      const int64_t M = x.dim(0), N = w.rows(), Kd = w.cols();
      bool fresh = false;
      if (t.tracked(x)) {  // dx [M, K] += dy [M, N] . W [N, K]
        Tensor& dx = t.grad_to_write(x, &fresh);
        if (w.w.dtype == DType::F32 && !w.scale.defined()) {
          // W read in place as the k-major [K, N] operand
          gemm_f32(M, Kd, N, g->ptr<float>(), N, false, w.w.ptr<float>(), w.w.strides[0], true,
                   dx.ptr<float>(), !fresh);
        } else {  // bf16 / f16 / quantized / fp8 W (frozen under LoRA): widened once
          Tensor wt = transpose(w);
          gemm_f32(M, Kd, N, g->ptr<float>(), N, false, wt.ptr<float>(), N, false, dx.ptr<float>(),
                   !fresh);
        }
      }
      if (t.tracked(w.w)) {  // dW [N, K] += dy^T [N, M] . x [M, K], both read in place
        Tensor& dw = t.grad_to_write(w.w, &fresh);
        gemm_f32(N, Kd, M, g->ptr<float>(), N, true, x.ptr<float>(), Kd, true, dw.ptr<float>(),
                 !fresh);
      }
      if (b.defined() && t.tracked(b)) {  // db = column sums of dy
        Tensor& db = t.grad(b);
        for (int64_t m = 0; m < g->dim(0); ++m)
          K().add(db.ptr<float>(), g->ptr<float>() + m * g->dim(1), db.ptr<float>(), g->dim(1));
      }
    });
  }
  return y;
}

Tensor transpose(const Weight& w) {
  const int64_t N = w.rows(), Kd = w.cols();
  Tensor t = Tensor::zeros(DType::F32, {Kd, N});
  constexpr int64_t kRows = 16;  // rows widened at a time, then written out column-wise
  auto rows = [&](int64_t r0, int64_t r1) {
    std::vector<float> buf(kRows * Kd);
    for (int64_t n0 = r0; n0 < r1; n0 += kRows) {
      const int64_t nb = std::min(kRows, r1 - n0);
      if (w.w.dtype == DType::F32 && !w.scale.defined()) {
        for (int64_t i = 0; i < nb; ++i)
          std::memcpy(buf.data() + i * Kd, w.w.row(n0 + i), Kd * sizeof(float));
      } else {
        widen_rows(w, n0, nb, buf.data());
      }
      for (int64_t k = 0; k < Kd; ++k) {
        float* o = t.ptr<float>() + k * N + n0;
        for (int64_t i = 0; i < nb; ++i) o[i] = buf[i * Kd + k];
      }
    }
  };
  if (N * Kd < kMinParallelWork) {
    rows(0, N);
  } else {
    thread_pool().parallel_range(N, kRows, rows);
  }
  return t;
}

Tensor transpose(const Tensor& x) {
  Weight w;
  w.w = x;
  return transpose(w);
}

void accumulate(Tensor& dst, const Tensor& src, float scale) {
  R1_ASSERT(dst.numel() == src.numel());
  if (scale == 1.0f) {
    K().add(dst.ptr<float>(), src.ptr<float>(), dst.ptr<float>(), dst.numel());
  } else {
    K().axpy(scale, src.ptr<float>(), dst.ptr<float>(), dst.numel());
  }
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
  Tensor y = Tensor::empty(DType::F32, {T, H});
  auto norm_rows = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      K().rms_norm(x.ptr<float>() + t * H, w.data, w.dtype, eps, y.ptr<float>() + t * H, H);
  };
  if (T * H < kMinParallelWork) {
    norm_rows(0, T);
  } else {
    thread_pool().parallel_range(T, 1, norm_rows);
  }
  if (Tape* tp = recording({&x, &w})) {
    tp->record(y, {x, w}, [x, w, y, eps](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      const int64_t T = x.dim(0), H = x.dim(1);
      std::vector<float> wf(H);
      K().to_f32(w.data, w.dtype, wf.data(), H);
      bool dx_fresh = false;
      Tensor* dx = t.tracked(x) ? &t.grad_to_write(x, &dx_fresh) : nullptr;
      Tensor* dw = t.tracked(w) ? &t.grad(w) : nullptr;
      // Rows in fixed blocks (the same sums whatever the thread count); dw from each block's
      // own partial sum, added in block order.
      constexpr int64_t kRows = 64;
      const int64_t blocks = (T + kRows - 1) / kRows;
      std::vector<float> dw_part(dw ? static_cast<size_t>(blocks * H) : 0, 0.0f);
      auto rows = [&](int64_t b0, int64_t b1) {
        std::vector<float> gw_row(H);
        float* __restrict gw = gw_row.data();
        for (int64_t r = b0 * kRows; r < std::min(T, b1 * kRows); ++r) {
          // xhat = x r with r = 1/sqrt(mean(x^2) + eps); y = xhat w.
          // dx = r (dy w - xhat mean(dy w xhat)); dw += dy xhat.
          const float* __restrict xr = x.ptr<float>() + r * H;
          const float* __restrict gr = g->ptr<float>() + r * H;
          const float rs = 1.0f / std::sqrt(K().dot(xr, xr, H) / static_cast<float>(H) + eps);
          for (int64_t i = 0; i < H; ++i) gw[i] = gr[i] * wf[i];
          const float mean = K().dot(gw, xr, H) * rs / static_cast<float>(H);
          if (dx) {
            float* __restrict d = dx->ptr<float>() + r * H;
            if (dx_fresh) {
              for (int64_t i = 0; i < H; ++i) d[i] = rs * (gw[i] - xr[i] * rs * mean);
            } else {
              for (int64_t i = 0; i < H; ++i) d[i] += rs * (gw[i] - xr[i] * rs * mean);
            }
          }
          if (dw) {
            float* d = dw_part.data() + (r / kRows) * H;
            for (int64_t i = 0; i < H; ++i) d[i] += gr[i] * xr[i] * rs;
          }
        }
      };
      if (T * H < kMinParallelWork) {
        rows(0, blocks);
      } else {
        thread_pool().parallel_range(blocks, 1, rows);
      }
      if (dw)
        for (int64_t b = 0; b < blocks; ++b)
          K().add(dw->ptr<float>(), dw_part.data() + b * H, dw->ptr<float>(), H);
    });
  }
  return y;
}

Tensor embedding(const Tensor& table, const std::vector<int32_t>& ids) {
  const int64_t V = table.dim(0), H = table.dim(1);
  Tensor y = Tensor::empty(DType::F32, {static_cast<int64_t>(ids.size()), H});
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= V)
      fail_input("token id ", ids[i], " is outside the model's vocabulary of ", V);
    widen_row(table, ids[i], y.ptr<float>() + i * H);
  }
  if (Tape* tp = recording({&table})) {
    tp->record(y, {table}, [table, ids, y](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      scatter_add_rows(t.grad(table), *g, ids);
    });
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
  if (Tape* tp = recording({&x})) {
    // In place: the gradient of the output is rotated back, in place, into the input's.
    tp->record(x, {cos, sin}, [x, n_heads, cos, sin](Tape& t) {
      Tensor* g = const_cast<Tensor*>(t.find_grad(x));
      if (!g) return;
      const int64_t T = x.dim(0), D = x.dim(1) / n_heads, half = D / 2;
      for (int64_t r = 0; r < T; ++r) {
        const float* c = cos.ptr<float>() + r * half;
        const float* s = sin.ptr<float>() + r * half;
        for (int64_t h = 0; h < n_heads; ++h) {
          float* v = g->ptr<float>() + r * x.dim(1) + h * D;
          for (int64_t i = 0; i < half; ++i) {
            float a = v[i], b = v[i + half];
            v[i] = a * c[i] + b * s[i];
            v[i + half] = b * c[i] - a * s[i];
          }
        }
      }
    });
  }
}

void silu_mul_(Tensor& g, const Tensor& u) {
  R1_ASSERT(g.numel() == u.numel());
  if (recording({&g, &u})) fail_internal("silu_mul_: in place on a tracked tensor; use silu_mul");
  float* gv = g.ptr<float>();
  const float* uv = u.ptr<float>();
  for_elements(g.numel(),
               [&](int64_t i0, int64_t i1) { K().silu_mul(gv + i0, uv + i0, gv + i0, i1 - i0); });
}

void add_(Tensor& y, const Tensor& x) {
  R1_ASSERT(y.numel() == x.numel());
  if (recording({&y, &x})) fail_internal("add_: in place on a tracked tensor; use add");
  float* yv = y.ptr<float>();
  const float* xv = x.ptr<float>();
  for_elements(y.numel(),
               [&](int64_t i0, int64_t i1) { K().add(yv + i0, xv + i0, yv + i0, i1 - i0); });
}

Tensor silu_mul(const Tensor& g, const Tensor& u) {
  R1_ASSERT(g.numel() == u.numel());
  Tensor y = Tensor::empty(DType::F32, g.shape);
  {
    const float *gv = g.ptr<float>(), *uv = u.ptr<float>();
    float* yv = y.ptr<float>();
    for_elements(g.numel(),
                 [&](int64_t i0, int64_t i1) { K().silu_mul(gv + i0, uv + i0, yv + i0, i1 - i0); });
  }
  if (Tape* tp = recording({&g, &u})) {
    tp->record(y, {g, u}, [g, u, y](Tape& t) {
      const Tensor* dy = t.find_grad(y);
      if (!dy) return;
      // Fresh gradient buffers are written, existing ones added to.
      bool g_fresh = false, u_fresh = false;
      float* dg = t.tracked(g) ? t.grad_to_write(g, &g_fresh).ptr<float>() : nullptr;
      float* du = t.tracked(u) ? t.grad_to_write(u, &u_fresh).ptr<float>() : nullptr;
      const float *gv = g.ptr<float>(), *uv = u.ptr<float>(), *d = dy->ptr<float>();
      auto part = [&](int64_t i0, int64_t i1) {
        K().silu_mul_grad(gv + i0, uv + i0, d + i0, dg ? dg + i0 : nullptr, !g_fresh,
                          du ? du + i0 : nullptr, !u_fresh, i1 - i0);
      };
      for_elements(g.numel(), part);
    });
  }
  return y;
}

Tensor add_reuse(Tensor a, const Tensor& b) {
  if (recording({&a, &b})) return add(a, b);
  add_(a, b);
  return a;
}

Tensor silu_mul_reuse(Tensor g, const Tensor& u) {
  if (recording({&g, &u})) return silu_mul(g, u);
  silu_mul_(g, u);
  return g;
}

Tensor add(const Tensor& a, const Tensor& b) {
  R1_ASSERT(a.numel() == b.numel());
  Tensor y = Tensor::empty(DType::F32, a.shape);
  {
    const float *av = a.ptr<float>(), *bv = b.ptr<float>();
    float* yv = y.ptr<float>();
    for_elements(y.numel(),
                 [&](int64_t i0, int64_t i1) { K().add(av + i0, bv + i0, yv + i0, i1 - i0); });
  }
  if (Tape* tp = recording({&a, &b})) {
    tp->record(y, {a, b}, [a, b, y](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      if (t.tracked(a)) accumulate_grad(t, a, *g);
      if (t.tracked(b)) accumulate_grad(t, b, *g);
    });
  }
  return y;
}

Tensor add_scaled(const Tensor& a, const Tensor& b, float s) {
  R1_ASSERT(a.numel() == b.numel());
  Tensor y = Tensor::empty(DType::F32, a.shape);
  std::memcpy(y.data, a.data, a.nbytes());
  {
    NoGrad off;
    accumulate(y, b, s);
  }
  if (Tape* tp = recording({&a, &b})) {
    tp->record(y, {a, b}, [a, b, y, s](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      if (t.tracked(a)) accumulate_grad(t, a, *g);
      if (t.tracked(b)) accumulate_grad(t, b, *g, s);
    });
  }
  return y;
}

Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows) {
  const int64_t H = x.dim(1);
  Tensor y = Tensor::empty(DType::F32, {static_cast<int64_t>(rows.size()), H});
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(y.ptr<float>() + i * H, x.ptr<float>() + rows[i] * H, H * sizeof(float));
  if (Tape* tp = recording({&x})) {
    tp->record(y, {x}, [x, rows, y](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      scatter_add_rows(t.grad(x), *g, rows);
    });
  }
  return y;
}

const float* widen_bf16(const uint16_t* src, int64_t n, float* tmp) {
  K().to_f32(src, DType::BF16, tmp, n);
  return tmp;
}

namespace {

// Pointers to element c0 of rows [j0, j1) of b (out[j - j0]), block by block (a block's rows of
// one segment are seg() elements apart).
void row_pointers(const RowBlocks& b, int64_t j0, int64_t j1, int64_t c0,
                  std::vector<const void*>& out) {
  out.resize(static_cast<size_t>(j1 - j0));
  const int64_t es = b.bf16 ? 2 : 4, stride = b.seg() * es, first = b.at(0, c0) * es;
  for (int64_t j = j0; j < j1;) {
    const int64_t blk = j / b.block_size, end = std::min(j1, (blk + 1) * b.block_size);
    const uint8_t* p =
        reinterpret_cast<const uint8_t*>(b.blocks[blk]) + first + (j - blk * b.block_size) * stride;
    for (; j < end; ++j, p += stride) out[j - j0] = p;
  }
}

}  // namespace

bool same_rows(const RowBlocks& a, const RowBlocks& b) {
  return a.blocks == b.blocks && a.offset == b.offset && a.width == b.width && a.seg() == b.seg() &&
         a.block_size == b.block_size && a.bf16 == b.bf16;
}

namespace {

// scores[g * (j1 - j0) + j - j0] = scale * q_g . k_j for rows [j0, j1) (attn_scores); returns the
// value rows' pointers (this thread's, valid until its next call).
const void* const* score_rows(const float* q, int64_t G, int64_t dk, const RowBlocks& k, int64_t ck,
                              const RowBlocks& v, int64_t cv, int64_t j0, int64_t j1, float scale,
                              std::vector<float>& scores) {
  thread_local std::vector<const void*> krows, vrows;
  const int64_t n = j1 - j0;
  scores.resize(static_cast<size_t>(n * G));
  row_pointers(k, j0, j1, ck, krows);
  K().attn_scores(q, G, dk, krows.data(), k.bf16 ? DType::BF16 : DType::F32, n, scale,
                  scores.data(), n);
  // MLA reads its values from the key rows' first columns: the same pointers.
  if (same_rows(v, k) && cv == ck) return krows.data();
  row_pointers(v, j0, j1, cv, vrows);
  return vrows.data();
}

}  // namespace

void attend_rows(const float* q, int64_t G, int64_t dk, const RowBlocks& k, int64_t ck,
                 const RowBlocks& v, int64_t cv, int64_t dv, int64_t n, float scale, float* o,
                 const int64_t* row_len) {
  thread_local std::vector<float> scores;
  const void* const* vrows = score_rows(q, G, dk, k, ck, v, cv, 0, n, scale, scores);
  for (int64_t g = 0; g < G; ++g) {
    const int64_t len = row_len ? row_len[g] : n;
    K().softmax(scores.data() + g * n, len);
    std::fill(scores.data() + g * n + len, scores.data() + (g + 1) * n, 0.0f);
  }
  K().attn_values(scores.data(), n, G, dv, vrows, v.bf16 ? DType::BF16 : DType::F32, n, o);
}

namespace {

// Rows [j0, j1) of attend_rows' n (no row_len), unnormalized: o[g * dv + d] = sum_j e_gj v_j[d]
// with e_gj = exp(scale * q_g . k_j - m[g]), m[g] the largest of those scores and l[g] the sum of
// the e_gj. Parts of one query's rows merge exactly (merge_parts).
void attend_part(const float* q, int64_t G, int64_t dk, const RowBlocks& k, int64_t ck,
                 const RowBlocks& v, int64_t cv, int64_t dv, int64_t j0, int64_t j1, float scale,
                 float* o, float* m, float* l) {
  thread_local std::vector<float> scores;
  const int64_t n = j1 - j0;
  const void* const* vrows = score_rows(q, G, dk, k, ck, v, cv, j0, j1, scale, scores);
  for (int64_t g = 0; g < G; ++g) {
    float* s = scores.data() + g * n;
    m[g] = *std::max_element(s, s + n);
    l[g] = K().exp_sum(s, m[g], n);
  }
  std::fill(o, o + G * dv, 0.0f);
  K().attn_values(scores.data(), n, G, dv, vrows, v.bf16 ? DType::BF16 : DType::F32, n, o);
}

// o[g * dv + d] += the softmax-weighted sum over all `parts` parts (part i's outputs at
// po + i * G * dv, its m and l at pm / pl + i * G): each part rescaled by exp(m_i - max m).
void merge_parts(int64_t parts, int64_t G, int64_t dv, const float* po, const float* pm,
                 const float* pl, float* o) {
  for (int64_t g = 0; g < G; ++g) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < parts; ++i) mx = std::max(mx, pm[i * G + g]);
    double denom = 0;
    for (int64_t i = 0; i < parts; ++i) denom += std::exp(pm[i * G + g] - mx) * pl[i * G + g];
    for (int64_t i = 0; i < parts; ++i) {
      const float w = static_cast<float>(std::exp(pm[i * G + g] - mx) / denom);
      const float* src = po + (i * G + g) * dv;
      for (int64_t d = 0; d < dv; ++d) o[g * dv + d] += w * src[d];
    }
  }
}

}  // namespace

std::vector<std::pair<int64_t, int64_t>> prompt_tiles(
    const std::vector<int32_t>& pos, int64_t max_tokens, int64_t rows_per_token,
    const std::function<bool(int64_t, int64_t)>& same_sequence) {
  std::vector<std::pair<int64_t, int64_t>> tiles;
  const int64_t T = static_cast<int64_t>(pos.size());
  for (int64_t t = 0; t < T;) {
    int64_t e = t + 1;
    while (e < T && e - t < max_tokens && pos[e] == pos[e - 1] + 1 &&
           (e - t + 1) * rows_per_token * (pos[e] + int64_t{1}) <= kTileScores &&
           same_sequence(t, e))
      ++e;
    tiles.emplace_back(t, e);
    t = e;
  }
  return tiles;
}

void attend_tile(const float* q, int64_t ldq, int64_t G, int64_t dk, const RowBlocks& k, int64_t ck,
                 const RowBlocks& v, int64_t cv, int64_t dv, const int32_t* pos, int64_t tokens,
                 float scale, float* o, int64_t ldo) {
  const int64_t n = pos[tokens - 1] + 1;
  if (tokens == 1) return attend_rows(q, G, dk, k, ck, v, cv, dv, n, scale, o);
  thread_local std::vector<float> qt, ot;
  thread_local std::vector<int64_t> len;
  const int64_t R = tokens * G;
  qt.resize(static_cast<size_t>(R * dk));
  ot.assign(static_cast<size_t>(R * dv), 0.0f);
  len.resize(static_cast<size_t>(R));
  for (int64_t i = 0; i < tokens; ++i) {
    std::memcpy(qt.data() + i * G * dk, q + i * ldq, static_cast<size_t>(G * dk) * sizeof(float));
    std::fill(len.begin() + i * G, len.begin() + (i + 1) * G, int64_t{pos[i]} + 1);
  }
  attend_rows(qt.data(), R, dk, k, ck, v, cv, dv, n, scale, ot.data(), len.data());
  for (int64_t i = 0; i < tokens; ++i)
    K().add(o + i * ldo, ot.data() + i * G * dv, o + i * ldo, G * dv);
}

Tensor attention(const Tensor& q, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                 const std::vector<KvSpan>& kv, const std::vector<int32_t>& pos, float scale) {
  if (recording({&q}))
    fail_internal("attention over a KV cache has no backward; use causal_attention");
  const int64_t T = q.dim(0), group = n_heads / n_kv_heads, D = head_dim, HD = n_heads * D;
  Tensor out = Tensor::zeros(DType::F32, {T, HD});
  int64_t work = 0;
  for (int64_t t = 0; t < T; ++t) work += 2 * (pos[t] + 1) * n_heads * D;
  // One task per (tile of tokens, kv head): the tile's query heads that share the kv head (its
  // tokens' `group` heads each, as one block of rows) read the cached key and value rows once,
  // through the attention kernels; each token's rows stop at its own position.
  const std::vector<std::pair<int64_t, int64_t>> tiles =
      prompt_tiles(pos, kAttnTileTokens, group, [&](int64_t a, int64_t b) {
        return same_rows(kv[a].k, kv[b].k) && same_rows(kv[a].v, kv[b].v);
      });
  const int64_t n_kv = n_kv_heads;
  auto kv_head = [&](int64_t task) {
    // the last tiles first: they attend to the most rows, and the pool hands tasks out in order
    const auto [t0, t1] = tiles[tiles.size() - 1 - static_cast<size_t>(task / n_kv)];
    const int64_t kvh = task % n_kv, h0 = kvh * group;
    attend_tile(q.ptr<float>() + t0 * HD + h0 * D, HD, group, D, kv[t0].k, kvh * D, kv[t0].v,
                kvh * D, D, pos.data() + t0, t1 - t0, scale, out.ptr<float>() + t0 * HD + h0 * D,
                HD);
  };
  const int64_t tasks = static_cast<int64_t>(tiles.size()) * n_kv;
  if (work < kMinParallelWork) {
    for (int64_t task = 0; task < tasks; ++task) kv_head(task);
    return out;
  }
  // Decode with fewer (token, kv head) tasks than threads (one sequence of a model with few kv
  // heads on a machine with many cores): each token's rows split into parts of at least
  // kAttnPartRows, one task each, merged after.
  const int64_t threads = thread_pool().size();
  int64_t parts = 1;
  if (tasks < threads && static_cast<int64_t>(tiles.size()) == T) {
    int64_t shortest = pos[0] + int64_t{1};
    for (int32_t p : pos) shortest = std::min(shortest, p + int64_t{1});
    parts = std::min((threads + tasks - 1) / tasks, shortest / kAttnPartRows);
  }
  if (parts <= 1) {
    thread_pool().parallel_for(tasks, kv_head);
    return out;
  }
  std::vector<float> po(static_cast<size_t>(tasks * parts * group * D)),
      pm(static_cast<size_t>(tasks * parts * group)), pl(pm.size());
  thread_pool().parallel_for(tasks * parts, [&](int64_t i) {
    const int64_t task = i / parts, part = i % parts, t = task / n_kv, kvh = task % n_kv;
    const int64_t n = pos[t] + int64_t{1}, j0 = n * part / parts, j1 = n * (part + 1) / parts;
    const int64_t h0 = kvh * group;
    attend_part(q.ptr<float>() + t * HD + h0 * D, group, D, kv[t].k, kvh * D, kv[t].v, kvh * D, D,
                j0, j1, scale, po.data() + i * group * D, pm.data() + i * group,
                pl.data() + i * group);
  });
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t t = task / n_kv, h0 = (task % n_kv) * group, i = task * parts;
    merge_parts(parts, group, D, po.data() + i * group * D, pm.data() + i * group,
                pl.data() + i * group, out.ptr<float>() + t * HD + h0 * D);
  }
  return out;
}

void log_softmax_(Tensor& logits) {
  if (recording({&logits})) fail_internal("log_softmax_: in place on a tracked tensor");
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
