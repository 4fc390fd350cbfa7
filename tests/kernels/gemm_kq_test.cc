// The 4-, 5- and 6-bit block formats (Q4_0, Q5_0, Q4_K, Q6_K): blocks written byte by byte as
// llama.cpp's dequantize_row_* reads them (the layouts of docs/FACTS.md section 8, restated here
// independently of core/quant.cc), the quantizers' accuracy, and every ISA's GEMM against the
// scalar reference on odd shapes, the reference against the plain product it approximates.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/quant.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace r1::kernels {
namespace {

using testing::random_floats;

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

std::vector<float> dequant(DType t, const std::vector<uint8_t>& b, int64_t n) {
  std::vector<float> y(n);
  dequantize_row(t, b.data(), y.data(), n);
  std::vector<float> z(n);
  kernels().to_f32(b.data(), t, z.data(), n);  // the table's widening agrees
  EXPECT_EQ(z, y);
  return y;
}

TEST(QuantFormats, Sizes) {
  EXPECT_EQ(dtype_bytes(DType::Q4_0, 64), 36u);
  EXPECT_EQ(dtype_bytes(DType::Q5_0, 64), 44u);
  EXPECT_EQ(dtype_bytes(DType::Q4_K, 512), 288u);
  EXPECT_EQ(dtype_bytes(DType::Q6_K, 512), 420u);
  EXPECT_EQ(dtype_block(DType::Q4_K), 256);
  EXPECT_EQ(dtype_block(DType::Q5_0), 32);
}

// Q4_0: f16 d, then 16 bytes: element j < 16 in byte j's low nibble, j + 16 in its high one;
// value (q - 8) * d. Q5_0: f16 d, u32 qh (bit j: bit 4 of element j), then the nibbles as Q4_0;
// value (q - 16) * d.
TEST(QuantFormats, Q4_0AndQ5_0Layouts) {
  std::vector<uint8_t> b(18);
  put_f16(b.data(), 0.5f);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> y = dequant(DType::Q4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(y[j + 16], (15 - j - 8) * 0.5f) << j;
  }
  std::vector<uint8_t> c(22);
  put_f16(c.data(), 0.25f);
  const uint32_t qh = 0x80010003u;  // elements 0, 1, 16 and 31 get bit 4
  std::memcpy(c.data() + 2, &qh, 4);
  for (int j = 0; j < 16; ++j) c[6 + j] = static_cast<uint8_t>(j | (3 << 4));
  y = dequant(DType::Q5_0, c, 32);
  EXPECT_EQ(y[0], (0 + 16 - 16) * 0.25f);
  EXPECT_EQ(y[1], (1 + 16 - 16) * 0.25f);
  EXPECT_EQ(y[2], (2 - 16) * 0.25f);
  EXPECT_EQ(y[16], (3 + 16 - 16) * 0.25f);
  EXPECT_EQ(y[17], (3 - 16) * 0.25f);
  EXPECT_EQ(y[31], (3 + 16 - 16) * 0.25f);
}

// Q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins (sub-blocks 0-3: low 6 bits of bytes
// 0-3 / 4-7; 4-7: low / high nibbles of bytes 8-11 plus the top 2 bits of bytes 0-3 / 4-7),
// 128 bytes of nibbles: 64-weight group g in bytes 32g..32g+31, its first 32 weights low.
TEST(QuantFormats, Q4_KLayout) {
  std::vector<uint8_t> b(144, 0);
  put_f16(b.data(), 0.5f);
  put_f16(b.data() + 2, 0.25f);
  const int sc[8] = {1, 2, 3, 63, 17, 33, 48, 5}, mn[8] = {0, 4, 9, 1, 62, 7, 20, 40};
  uint8_t* s = b.data() + 4;
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  for (int i = 0; i < 128; ++i) b[16 + i] = static_cast<uint8_t>((i % 16) | ((i * 7 % 16) << 4));
  const std::vector<float> y = dequant(DType::Q4_K, b, 256);
  for (int i = 0; i < 256; ++i) {
    const int g = i / 64, l = i % 64, sub = i / 32;
    const uint8_t byte = b[16 + 32 * g + l % 32];
    const int q = l < 32 ? byte & 15 : byte >> 4;
    ASSERT_EQ(y[i], 0.5f * sc[sub] * q - 0.25f * mn[sub]) << i;
  }
}

// Q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, f16 d. In each half of 128 weights (ql + 64h,
// qh + 32h, scales + 8h), weight 32k + l takes the low (k = 0, 1) or high (k = 2, 3) nibble of
// ql[l + 32 (k & 1)] and bits 2k..2k+1 of qh[l]; value d * scale[l / 16 + 2k] * (q - 32).
TEST(QuantFormats, Q6_KLayout) {
  std::vector<uint8_t> b(210);
  for (int i = 0; i < 192; ++i) b[i] = static_cast<uint8_t>(i * 37 + 5);
  for (int i = 0; i < 16; ++i) b[192 + i] = static_cast<uint8_t>(static_cast<int8_t>(i * 9 - 70));
  put_f16(b.data() + 208, 0.125f);
  const std::vector<float> y = dequant(DType::Q6_K, b, 256);
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, k = (i % 128) / 32, l = i % 32;
    const uint8_t ql = b[64 * h + l + 32 * (k & 1)], qh = b[128 + 32 * h + l];
    const int q = ((k < 2 ? ql & 15 : ql >> 4) | (((qh >> (2 * k)) & 3) << 4)) - 32;
    const int scale = static_cast<int8_t>(b[192 + 8 * h + l / 16 + 2 * k]);
    ASSERT_EQ(y[i], 0.125f * scale * q) << i;
  }
}

// llama.cpp's Q4_0 rule: d = (the value of largest magnitude) / -8, q = min(15, trunc(x / d +
// 8.5)); the largest value maps to q = 0 exactly.
TEST(QuantFormats, Q4_0QuantizerFollowsLlamaCpp) {
  std::vector<float> x(32, 0.0f);
  x[0] = -16;  // d = 2
  x[1] = 3;    // 1.5 + 8.5 = 10
  x[2] = 14;   // 7 + 8.5 -> 15
  x[3] = 15.9f;
  std::vector<uint8_t> q(18);
  quantize_row(DType::Q4_0, x.data(), q.data(), 32);
  uint16_t h;
  std::memcpy(&h, q.data(), 2);
  EXPECT_EQ(f16_to_f32(h), 2.0f);
  EXPECT_EQ(q[2] & 15, 0);
  EXPECT_EQ(q[3] & 15, 10);
  EXPECT_EQ(q[4] & 15, 15);
  EXPECT_EQ(q[5] & 15, 15);  // clamped
  EXPECT_EQ(q[6] & 15, 8);   // zero
}

// Relative RMS error of each format on Gaussian-like rows with outliers, and the ordering the
// bits promise. Measured (this quantizer): Q8_0 0.8%, Q6_K 2.2%, Q5_0 6.0%, Q4_K 8.3%, Q4_0 11.8%.
TEST(QuantFormats, RoundTripAccuracy) {
  const int64_t n = 256 * 24;
  std::vector<float> x = random_floats(n, 3, -1.0f, 1.0f);
  for (int64_t i = 0; i + 3 < n; i += 4) x[i] = x[i] * x[i + 1] * x[i + 2] * 3;  // heavier center
  for (int64_t i = 0; i < n; i += 211) x[i] *= 8;                                // outliers
  x[5] = 0;
  for (int64_t i = 512; i < 768; ++i) x[i] = 0;  // an all-zero super-block
  auto rel = [&](DType t) {
    std::vector<uint8_t> q(dtype_bytes(t, n));
    quantize_row(t, x.data(), q.data(), n);
    std::vector<float> y = dequant(t, q, n);
    double e = 0, m = 0;
    for (int64_t i = 0; i < n; ++i) {
      e += (y[i] - x[i]) * static_cast<double>(y[i] - x[i]);
      m += x[i] * static_cast<double>(x[i]);
      if (i >= 512 && i < 768) {
        EXPECT_EQ(y[i], 0.0f) << dtype_name(t);
      }
    }
    const double r = std::sqrt(e / m);
    std::printf("%s: relative RMS error %.4f\n", dtype_name(t), r);
    return r;
  };
  const double q8 = rel(DType::Q8_0), q6 = rel(DType::Q6_K), q5 = rel(DType::Q5_0),
               q4k = rel(DType::Q4_K), q4 = rel(DType::Q4_0);
  EXPECT_LT(q8, q6);
  EXPECT_LT(q6, q5);
  EXPECT_LT(q5, q4k);
  EXPECT_LT(q4k, q4);
  EXPECT_LT(q6, 0.03);
  EXPECT_LT(q4k, 0.10);
  EXPECT_LT(q4, 0.13);
}

struct Case {
  int64_t M, K, N;
};

void check(Isa isa, DType t, Case c, uint32_t seed) {
  const int64_t ldx = c.K + 3, ldw = c.K + 256, ldy = c.N + 2;
  std::vector<float> x = random_floats(c.M * ldx, seed, -2.0f, 2.0f);
  std::vector<float> wf = random_floats(c.N * ldw, seed + 1, -1.0f, 1.0f);
  for (size_t i = 0; i < wf.size(); i += 37) wf[i] *= 6;
  std::vector<uint8_t> w(dtype_bytes(t, c.N * ldw));
  for (int64_t n = 0; n < c.N; ++n)
    quantize_row(t, wf.data() + n * ldw, w.data() + dtype_bytes(t, n * ldw), ldw);
  GemmParams p = testing::gemm_params(c.M, c.K, 1, c.N, x.data(), ldx, w.data(), ldw, t, ldy);
  std::vector<float> want(c.M * ldy, -7.0f), got(c.M * ldy, -7.0f);
  p.y = want.data();
  kernels_for(Isa::Scalar).gemm(p);
  p.y = got.data();
  kernels_for(isa).gemm(p);
  std::vector<float> row(c.K);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < ldy; ++n) {
      const float a = got[m * ldy + n], b = want[m * ldy + n];
      if (n < 1 || n >= c.N) {
        ASSERT_EQ(a, -7.0f) << "wrote outside its columns";
        continue;
      }
      if (c.K > 0) dequantize_row(t, w.data() + dtype_bytes(t, n * ldw), row.data(), c.K);
      double mag = 0, exact = 0, xq_err = 0;
      const float* xr = x.data() + m * ldx;
      for (int64_t k = 0; k < c.K; ++k) {
        mag += std::fabs(xr[k] * row[k]);
        exact += static_cast<double>(xr[k]) * row[k];
        float amax = 0;
        for (int64_t j = k / 32 * 32; j < k / 32 * 32 + 32; ++j)
          amax = std::max(amax, std::fabs(xr[j]));
        xq_err += std::fabs(row[k]) * (0.5 * amax / 127 + 1e-7 * amax);
      }
      ASSERT_LE(std::fabs(a - b), 2e-5 * mag + 1e-30)
          << isa_name(isa) << " " << dtype_name(t) << " M=" << c.M << " K=" << c.K << " at " << m
          << "," << n;
      // The reference: X's quantization is the only approximation of the dequantized product.
      if (isa == Isa::Scalar) {
        ASSERT_LE(std::fabs(b - exact), xq_err + 2e-5 * mag) << dtype_name(t) << m << "," << n;
      }
    }
}

TEST(GemmKq, EveryIsaMatchesReference) {
  uint32_t seed = 31;
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K})
    for (const testing::Int8Target& target : testing::int8_targets(true)) {
      const Isa isa = target.isa;
      testing::Avx2Int8Scope int8_scope(target);
      SCOPED_TRACE(target.name);
      const int64_t b = dtype_block(t);
      for (int64_t M : {1, 2, 3, 4, 5, 9, 17})
        for (int64_t K : {int64_t{0}, b, 3 * b, 5 * b}) {
          check(isa, t, {M, K, 23}, seed++);
          if (HasFatalFailure()) return;
        }
    }
}

// A GEMM given X already quantized (GemmParams::xq / xd) computes what it computes from X.
TEST(GemmKq, PrequantizedX) {
  const int64_t K = 512, N = 9;
  std::vector<float> x = random_floats(K, 41), wf = random_floats(N * K, 42);
  std::vector<int8_t> xq(K);
  std::vector<float> xd(K / 32);
  kernels_for(Isa::Scalar).quantize_x_q8(x.data(), K, xq.data(), xd.data());
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K}) {
    std::vector<uint8_t> w(dtype_bytes(t, N * K));
    quantize_row(t, wf.data(), w.data(), N * K);
    for (const testing::Int8Target& target : testing::int8_targets(true)) {
      const Isa isa = target.isa;
      testing::Avx2Int8Scope int8_scope(target);
      SCOPED_TRACE(target.name);
      GemmParams p = testing::gemm_params(1, K, 0, N, x.data(), K, w.data(), K, t, N);
      std::vector<float> a(N), b(N);
      p.y = a.data();
      kernels_for(isa).gemm(p);
      p.xq = xq.data();
      p.xd = xd.data();
      p.y = b.data();
      kernels_for(isa).gemm(p);
      EXPECT_EQ(a, b) << isa_name(isa) << " " << dtype_name(t);
    }
  }
}

}  // namespace
}  // namespace r1::kernels
