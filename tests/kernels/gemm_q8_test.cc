// Q8_0 (llama.cpp's 8-bit block format): the reference quantizer, and every ISA's GEMM against
// the scalar reference on odd shapes; the reference against the plain product it approximates.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/quant_pack.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace r1::kernels {
namespace {

using testing::random_floats;

float block_scale(const uint8_t* blk) {
  uint16_t h;
  std::memcpy(&h, blk, 2);
  return f16_to_f32(h);
}

// llama.cpp's rule: d = max|x| / 127 stored as f16, q = roundf(x / d), ties away from zero.
TEST(Q8_0, QuantizerFollowsLlamaCpp) {
  std::vector<float> x(64, 0.0f);
  x[0] = 127.0f;  // d = 1
  x[1] = 0.5f;    // a tie: away from zero
  x[2] = -0.5f;
  x[3] = 2.49f;
  x[4] = -126.5f;
  // The second block is all zero: d = 0 and q = 0.
  std::vector<uint8_t> q(2 * kQ8BlockBytes);
  quantize_q8_0(x.data(), q.data(), 64);
  EXPECT_EQ(block_scale(q.data()), 1.0f);
  EXPECT_EQ(static_cast<int8_t>(q[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(q[3]), 1);
  EXPECT_EQ(static_cast<int8_t>(q[4]), -1);
  EXPECT_EQ(static_cast<int8_t>(q[5]), 2);
  EXPECT_EQ(static_cast<int8_t>(q[6]), -127);
  EXPECT_EQ(block_scale(q.data() + kQ8BlockBytes), 0.0f);
  for (size_t j = 0; j < 32; ++j) EXPECT_EQ(q[kQ8BlockBytes + 2 + j], 0);
  EXPECT_EQ(dtype_bytes(DType::Q8_0, 64), 68u);
  EXPECT_EQ(dtype_block(DType::Q8_0), 32);
}

// Dequantized values are within half a step (plus the f16 rounding of d) of the originals.
TEST(Q8_0, RoundTripErrorIsHalfAStep) {
  const int64_t n = 32 * 40;
  std::vector<float> x = random_floats(n, 5, -3.0f, 3.0f), y(n);
  for (int64_t i = 0; i < n; i += 97) x[i] *= 50;  // blocks of very different scales
  std::vector<uint8_t> q(dtype_bytes(DType::Q8_0, n));
  quantize_q8_0(x.data(), q.data(), n);
  dequantize_q8_0(q.data(), y.data(), n);
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0;
    for (int64_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const float d = amax / 127;
    for (int64_t j = 0; j < 32; ++j)
      ASSERT_LE(std::fabs(y[b * 32 + j] - x[b * 32 + j]), 0.5f * d + amax * 1e-3f) << b << "," << j;
  }
  std::vector<float> z(n);
  kernels().to_f32(q.data(), DType::Q8_0, z.data(), n);  // the table's widening agrees
  EXPECT_EQ(z, y);
}

// W rows of q in [-128, 127] (llama.cpp writes [-127, 127]; a file may hold -128) with random f16
// scales; Y outside [n_begin, n_end) is untouched.
struct Case {
  int64_t M, K, N;
};

void check(Isa isa, Case c, uint32_t seed) {
  const int64_t ldx = c.K + 3, ldw = c.K + 64, ldy = c.N + 2;
  std::vector<float> x = random_floats(c.M * ldx, seed, -2.0f, 2.0f);
  std::vector<uint8_t> w(dtype_bytes(DType::Q8_0, c.N * ldw));
  std::mt19937 rng(seed);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t b = 0; b < ldw / 32; ++b) {
      uint8_t* blk = w.data() + dtype_bytes(DType::Q8_0, n * ldw) + b * kQ8BlockBytes;
      const uint16_t h = f32_to_f16(std::ldexp(1.0f + (rng() % 100) / 100.0f, -8 + rng() % 4));
      std::memcpy(blk, &h, 2);
      for (int j = 0; j < 32; ++j) blk[2 + j] = static_cast<uint8_t>(rng() % 256);  // -128 too
    }
  GemmParams p =
      testing::gemm_params(c.M, c.K, 1, c.N, x.data(), ldx, w.data(), ldw, DType::Q8_0, ldy);
  std::vector<float> want(c.M * ldy, -7.0f), got(c.M * ldy, -7.0f);
  p.y = want.data();
  kernels_for(Isa::Scalar).gemm(p);
  p.y = got.data();
  kernels_for(isa).gemm(p);
  std::vector<float> wf(c.K);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < ldy; ++n) {
      const float a = got[m * ldy + n], b = want[m * ldy + n];
      if (n < 1 || n >= c.N) {
        ASSERT_EQ(a, -7.0f) << "wrote outside its columns";
        continue;
      }
      // Against the reference: float rounding of the per-block scaled sums.
      const uint8_t* row = w.data() + dtype_bytes(DType::Q8_0, n * ldw);
      dequantize_q8_0(row, wf.data(), c.K);
      double mag = 0, exact = 0, xq_err = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const float* xr = x.data() + m * ldx;
        mag += std::fabs(xr[k] * wf[k]);
        exact += static_cast<double>(xr[k]) * wf[k];
        float amax = 0;
        for (int64_t j = k / 32 * 32; j < k / 32 * 32 + 32; ++j)
          amax = std::max(amax, std::fabs(xr[j]));
        xq_err += std::fabs(wf[k]) * (0.5 * amax / 127 + 1e-7 * amax);
      }
      // AVX-512 leaves many X rows to the f32 panels on CPUs whose FMA outruns their int8 dot
      // products (F32PanelsAreTheDequantizedProduct): there X is not quantized at all.
      const bool f32_panels = isa == Isa::Avx512 && std::fabs(a - exact) <= 2e-6 * mag + 1e-30;
      ASSERT_TRUE(std::fabs(a - b) <= 1e-5 * mag + 1e-30 || f32_panels)
          << isa_name(isa) << " M=" << c.M << " K=" << c.K << " at " << m << "," << n << ": " << a
          << " against " << b;
      // The reference itself: X's quantization is the only approximation of the product.
      if (isa == Isa::Scalar) {
        ASSERT_LE(std::fabs(b - exact), xq_err + 1e-5 * mag) << m << "," << n;
      }
    }
}

// Every ISA quantizes X exactly as the reference (ties half away from zero included), and a
// GEMM given X already quantized computes what it computes from X.
TEST(GemmQ8_0, QuantizedXIsTheReferences) {
  const int64_t n = 32 * 9;
  std::vector<float> x = random_floats(n, 21, -4.0f, 4.0f);
  for (int64_t j = 0; j < 32; ++j) x[j] = (j - 16) * 0.5f;  // ties: d = 1, x / d = k + 0.5
  x[0] = -127;
  x[40] = 127 * 3.0f;
  for (int64_t j = 64; j < 96; ++j) x[j] = 0;  // an all-zero block
  std::vector<int8_t> want_q(n), got_q(n);
  std::vector<float> want_d(n / 32), got_d(n / 32);
  kernels_for(Isa::Scalar).quantize_x_q8(x.data(), n, want_q.data(), want_d.data());
  EXPECT_EQ(want_d[0], 1.0f);
  EXPECT_EQ(want_q[1], -8);  // -7.5: away from zero
  EXPECT_EQ(want_q[17], 1);  // 0.5
  EXPECT_EQ(want_q[20], 2);  // 2.0
  for (const testing::Int8Target& target : testing::int8_targets(false)) {
    const Isa isa = target.isa;
    testing::Avx2Int8Scope int8_scope(target);
    SCOPED_TRACE(target.name);
    kernels_for(isa).quantize_x_q8(x.data(), n, got_q.data(), got_d.data());
    EXPECT_EQ(got_q, want_q) << isa_name(isa);
    EXPECT_EQ(got_d, want_d) << isa_name(isa);
  }
  // GemmParams::xq / xd.
  std::vector<uint8_t> w(dtype_bytes(DType::Q8_0, 5 * n));
  std::vector<float> wf = random_floats(5 * n, 22);
  quantize_q8_0(wf.data(), w.data(), 5 * n);
  for (const testing::Int8Target& target : testing::int8_targets(true)) {
    const Isa isa = target.isa;
    testing::Avx2Int8Scope int8_scope(target);
    SCOPED_TRACE(target.name);
    GemmParams p;
    p.M = 1;
    p.K = n;
    p.n_end = 5;
    p.x = x.data();
    p.ldx = n;
    p.w = w.data();
    p.ldw = n;
    p.wtype = DType::Q8_0;
    p.ldy = 5;
    std::vector<float> a(5), b(5);
    p.y = a.data();
    kernels_for(isa).gemm(p);
    p.xq = want_q.data();
    p.xd = want_d.data();
    p.y = b.data();
    kernels_for(isa).gemm(p);
    EXPECT_EQ(a, b) << isa_name(isa);
  }
}

// AVX-512's path for many X rows (taken on CPUs whose f32 FMA outruns their int8 dot products):
// the weights widened exactly into f32 panels, X unquantized: the plain product of X and the
// dequantized W up to f32 rounding, on odd shapes (a partial panel of rows, K past one panel,
// a row stride past K), and nothing written outside [n_begin, n_end). The same from W in the
// packed layout (Q8_0_R8: whole groups of 8 rows, whole units of 64).
TEST(GemmQ8_0, F32PanelsAreTheDequantizedProduct) {
  if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512";
  uint32_t seed = 40;
  for (bool pack : {false, true})
    for (int64_t M : {1, 7, 16, 33})
      for (int64_t K : {32, 96, 320, 544, 576}) {
        if (pack && K % 64 != 0) continue;
        const int64_t N = pack ? 48 : 45, ldx = K + 3, ldw = K + 64, ldy = N + 2;
        std::vector<float> x = random_floats(M * ldx, seed++, -2.0f, 2.0f);
        std::vector<float> wf = random_floats(N * ldw, seed++, -1.0f, 1.0f);
        std::vector<uint8_t> w(dtype_bytes(DType::Q8_0, N * ldw));
        quantize_q8_0(wf.data(), w.data(), N * ldw);
        w[2] = 0x80;  // a q of -128
        std::vector<uint8_t> packed(w.size());
        for (int64_t g = 0; pack && g < N / kPackRows; ++g)
          pack_rows8(DType::Q8_0, w.data() + dtype_bytes(DType::Q8_0, g * kPackRows * ldw),
                     packed.data() + dtype_bytes(DType::Q8_0, g * kPackRows * ldw), ldw);
        GemmParams p = pack ? testing::gemm_params(M, K, 8, N - 8, x.data(), ldx, packed.data(),
                                                   ldw, DType::Q8_0_R8, ldy)
                            : testing::gemm_params(M, K, 1, N - 2, x.data(), ldx, w.data(), ldw,
                                                   DType::Q8_0, ldy);
        std::vector<float> y(M * ldy, -7.0f), row(ldw);
        p.y = y.data();
        avx512::gemm_q8_0_f32(p);
        for (int64_t n = 0; n < ldy; ++n) {
          if (n >= p.n_begin && n < p.n_end)
            dequantize_q8_0(w.data() + dtype_bytes(DType::Q8_0, n * ldw), row.data(), ldw);
          for (int64_t m = 0; m < M; ++m) {
            const float got = y[m * ldy + n];
            if (n < p.n_begin || n >= p.n_end) {
              ASSERT_EQ(got, -7.0f) << "wrote outside its columns";
              continue;
            }
            double exact = 0, mag = 0;
            for (int64_t k = 0; k < K; ++k) {
              exact += static_cast<double>(x[m * ldx + k]) * row[k];
              mag += std::fabs(x[m * ldx + k] * row[k]);
            }
            ASSERT_LE(std::fabs(got - exact), 2e-6 * mag + 1e-30)
                << "M=" << M << " K=" << K << " at " << m << "," << n;
          }
        }
      }
}

TEST(GemmQ8_0, EveryIsaMatchesReference) {
  uint32_t seed = 11;
  for (const testing::Int8Target& target : testing::int8_targets(true)) {
    const Isa isa = target.isa;
    testing::Avx2Int8Scope int8_scope(target);
    SCOPED_TRACE(target.name);
    for (int64_t M : {1, 2, 3, 4, 5, 9, 17, 40})
      for (int64_t K : {0, 32, 96, 320}) {
        check(isa, {M, K, 23}, seed++);
        if (HasFatalFailure()) return;
      }
  }
}

}  // namespace
}  // namespace r1::kernels
