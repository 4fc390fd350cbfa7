// Scalar reference kernels. Each is the plainest loop that states the definition; sums that the
// interface leaves unspecified (dot, rms_norm, softmax) are taken in double so the reference is
// the more accurate side of every comparison.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/quant.h"
#include "core/quant_pack.h"
#include "kernels/gemm_fp8.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::ref {

void x_to_bf16(const float* x, int64_t ldx, bool x_trans, int64_t M, int64_t K, uint16_t* xb,
               int64_t ldb) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < ldb; ++k)
      xb[m * ldb + k] = k < K ? f32_to_bf16(x_trans ? x[k * ldx + m] : x[m * ldx + k]) : 0;
}

void quantize_x_q8(const float* x, int64_t n, int8_t* q, float* d) {
  for (int64_t b = 0; b < n / kQ8Block; ++b)
    d[b] = quantize_block_q8(x + b * kQ8Block, q + b * kQ8Block);
}

namespace {

// Element i of a row stored in dtype t, widened to f32.
float load_as_f32(const void* row, DType t, int64_t i) {
  switch (t) {
    case DType::F32:
      return static_cast<const float*>(row)[i];
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(row)[i]);
    case DType::F16:
      return f16_to_f32(static_cast<const uint16_t*>(row)[i]);
    case DType::F8_E4M3:
      return fp8_e4m3_to_f32(static_cast<const uint8_t*>(row)[i]);
    default:
      fail_internal("kernels: unsupported element type ", dtype_name(t));
  }
}

}  // namespace

namespace {

// Block-quantized W: X quantized per 32 (quantize_x_q8), then per 32-weight chunk of W
// (decode_chunk) dx * (f0 * sum of the first 16 integer products + f1 * the last 16 - mn * sum
// of qx): the kernels.h contract, exact integer sums and one f32 rounding per term.
// With bf16_dot instead: each weight f * q - mn in f32, rounded to bf16, times X rounded to bf16.
void gemm_blocks(const GemmParams& p) {
  if (p.K % dtype_block(p.wtype) != 0)
    fail_internal("gemm: ", dtype_name(p.wtype), " rows of ", p.K, " elements");
  const int64_t nb = p.K / kQ8Block;
  std::vector<int8_t> xq(p.K);
  std::vector<float> xd(nb);
  QuantChunk ch;
  // Packed layouts (core/quant_pack.h): each row's group unpacked to the plain type first.
  const bool packed = is_packed_type(p.wtype);
  const DType type = unpacked_type(p.wtype);
  std::vector<uint8_t> rows(packed ? kPackRows * dtype_bytes(type, p.ldw) : 0);
  int64_t unpacked_group = -1;
  auto round_bf16 = [](float v) { return bf16_to_f32(f32_to_bf16(v)); };
  for (int64_t m = 0; m < p.M; ++m) {
    if (p.bf16_dot) {
      // X is used as it is, rounded below
    } else if (p.xq) {
      std::memcpy(xq.data(), p.xq + m * p.K, p.K);
      std::memcpy(xd.data(), p.xd + m * nb, nb * sizeof(float));
    } else {
      quantize_x_q8(p.x + m * p.ldx, p.K, xq.data(), xd.data());
    }
    for (int64_t n = p.n_begin; n < p.n_end; ++n) {
      const uint8_t* w = static_cast<const uint8_t*>(p.w) + dtype_bytes(p.wtype, n * p.ldw);
      if (packed) {
        if (n / kPackRows != unpacked_group) {
          unpacked_group = n / kPackRows;
          unpack_rows8(p.wtype, w - dtype_bytes(p.wtype, (n % kPackRows) * p.ldw), rows.data(),
                       p.ldw);
        }
        w = rows.data() + dtype_bytes(type, (n % kPackRows) * p.ldw);
      }
      float acc = 0.0f;
      for (int64_t b = 0; b < nb && p.bf16_dot; ++b) {
        decode_chunk(type, w, b, &ch);
        const float* x = p.x + m * p.ldx + b * kQ8Block;
        for (int j = 0; j < 32; ++j)
          acc += round_bf16(x[j]) * round_bf16(ch.f[j / 16] * ch.q[j] - ch.mn);
      }
      for (int64_t b = 0; b < nb && !p.bf16_dot; ++b) {
        decode_chunk(type, w, b, &ch);
        const int8_t* x = xq.data() + b * kQ8Block;
        int32_t s0 = 0, s1 = 0, sx = 0;
        for (int j = 0; j < 16; ++j) {
          s0 += ch.q[j] * static_cast<int32_t>(x[j]);
          s1 += ch.q[j + 16] * static_cast<int32_t>(x[j + 16]);
        }
        for (int j = 0; j < 32; ++j) sx += x[j];
        acc += xd[b] * (ch.f[0] * static_cast<float>(s0) + ch.f[1] * static_cast<float>(s1) -
                        ch.mn * static_cast<float>(sx));
      }
      p.y[m * p.ldy + n] = acc;
    }
  }
}

}  // namespace

void gemm(const GemmParams& p) {
  if (p.x_trans || p.w_trans || p.accumulate) {
    if (p.wtype != DType::F32)
      fail_internal("gemm: transposed operands and accumulation need f32 weights");
    const float* w = static_cast<const float*>(p.w);
    // bf16_dot with f32 W: both operands rounded to bf16 (the products are then exact in f32).
    auto rounded = [&](float v) { return p.bf16_dot ? bf16_to_f32(f32_to_bf16(v)) : v; };
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = p.n_begin; n < p.n_end; ++n) {
        float acc = 0.0f;
        for (int64_t k = 0; k < p.K; ++k)
          acc += rounded(p.x_trans ? p.x[k * p.ldx + m] : p.x[m * p.ldx + k]) *
                 rounded(p.w_trans ? w[k * p.ldw + n] : w[n * p.ldw + k]);
        p.y[m * p.ldy + n] = p.accumulate ? p.y[m * p.ldy + n] + acc : acc;
      }
    return;
  }
  if (is_block_type(p.wtype)) return gemm_blocks(p);
  if (p.wtype != DType::F32 && p.wtype != DType::BF16 && p.wtype != DType::F16 &&
      p.wtype != DType::F8_E4M3)
    fail_internal("gemm: unsupported weight type ", dtype_name(p.wtype));
  if (p.wtype == DType::F8_E4M3 && (!p.w_scale || p.block_n <= 0 || p.block_k <= 0))
    fail_internal("gemm: fp8 weights need block scales");
  const size_t wsize = dtype_size(p.wtype);
  for (int64_t m = 0; m < p.M; ++m) {
    const float* x = p.x + m * p.ldx;
    for (int64_t n = p.n_begin; n < p.n_end; ++n) {
      const void* w = static_cast<const char*>(p.w) + n * p.ldw * wsize;
      float acc = 0.0f;
      for (int64_t k = 0; k < p.K; ++k) {
        float xk = x[k];
        const bool bf16_dot = p.bf16_dot && (p.wtype == DType::BF16 || p.wtype == DType::F32);
        if (bf16_dot) xk = bf16_to_f32(f32_to_bf16(xk));  // bf16 dot: X, and f32 W, rounded
        float wk = load_as_f32(w, p.wtype, k);
        if (bf16_dot && p.wtype == DType::F32) wk = bf16_to_f32(f32_to_bf16(wk));
        if (p.wtype == DType::F8_E4M3) {
          const float s = p.w_scale[(n / p.block_n) * p.ld_scale + k / p.block_k];
          if (p.bf16_dot && p.M < kFp8Bf16PanelMinM) {
            xk = bf16_to_f32(f32_to_bf16(xk * s));  // bf16 dot: X times the scale rounded
          } else if (p.bf16_dot) {  // many rows (panels): W times the scale, and X, rounded
            xk = bf16_to_f32(f32_to_bf16(xk));
            wk = bf16_to_f32(f32_to_bf16(wk * s));
          } else {
            wk *= s;
          }
        }
        float product = xk * wk;
        acc += product;
      }
      p.y[m * p.ldy + n] = acc;
    }
  }
}

float dot(const float* a, const float* b, int64_t n) {
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(acc);
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void rms_norm(const float* x, const void* w, DType wtype, float eps, float* y, int64_t n) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * load_as_f32(w, wtype, i);
}

void silu_mul(const float* g, const float* u, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    y[i] = gi / (1.0f + std::exp(-gi)) * u[i];
  }
}

void silu_mul_grad(const float* g, const float* u, const float* dy, float* dg, bool dg_add,
                   float* du, bool du_add, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-g[i]));
    const float a = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s)), b = dy[i] * g[i] * s;
    if (dg) dg[i] = dg_add ? dg[i] + a : a;
    if (du) du[i] = du_add ? du[i] + b : b;
  }
}

float exp_sum(float* x, float shift, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - shift));
  return static_cast<float>(sum);
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::fmax(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void to_f32(const void* src, DType t, float* dst, int64_t n) {
  if (is_packed_type(t)) fail_internal("to_f32: a row of ", dtype_name(t), " is not contiguous");
  if (is_block_type(t)) return dequantize_row(t, src, dst, n);
  for (int64_t i = 0; i < n; ++i) dst[i] = load_as_f32(src, t, i);
}

void add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

float sum_streams(const float* x, int64_t stride, int64_t n, int streams) {
  double sum = 0.0;
  for (int j = 0; j < streams; ++j)
    for (int64_t i = 0; i < n; ++i) sum += x[j * stride + i];
  return static_cast<float>(sum);
}

void attn_scores(const float* q, int64_t G, int64_t D, const void* const* k, DType kt, int64_t n,
                 float scale, float* s, int64_t lds) {
  for (int64_t g = 0; g < G; ++g)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int64_t d = 0; d < D; ++d)
        sum += static_cast<double>(q[g * D + d]) * load_as_f32(k[j], kt, d);
      s[g * lds + j] = scale * static_cast<float>(sum);
    }
}

void attn_values(const float* p, int64_t ldp, int64_t G, int64_t D, const void* const* v, DType vt,
                 int64_t n, float* o) {
  for (int64_t g = 0; g < G; ++g)
    for (int64_t d = 0; d < D; ++d) {
      double sum = o[g * D + d];
      for (int64_t j = 0; j < n; ++j)
        sum += static_cast<double>(p[g * ldp + j]) * load_as_f32(v[j], vt, d);
      o[g * D + d] = static_cast<float>(sum);
    }
}

}  // namespace r1::kernels::ref
