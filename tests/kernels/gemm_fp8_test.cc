// fp8 (e4m3, block-scaled) GEMM: every ISA's table entry (the fused small-M kernel, the
// widened-panel path and, with bf16_dot, the bf16 kernel) against the scalar reference, on shapes
// with partial blocks.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "kernels/gemm_fp8.h"
#include "test_util.h"

namespace r1::kernels {
namespace {

using testing::random_floats;

// Y[:, n_begin:n_end] = X . W^T for e4m3 W with f32 block scales (128 x 128 unless changed).
GemmParams fp8_params(int64_t M, int64_t K, int64_t n_begin, int64_t n_end, const float* x,
                      int64_t ldx, const uint8_t* w, int64_t ldw, const float* scale,
                      int64_t ld_scale, int64_t ldy) {
  GemmParams p = testing::gemm_params(M, K, n_begin, n_end, x, ldx, w, ldw, DType::F8_E4M3, ldy);
  p.w_scale = scale;
  p.ld_scale = ld_scale;
  return p;
}

void check(Isa isa, int64_t M, int64_t K, int64_t N, int64_t bn, int64_t bk, uint32_t seed,
           bool bf16_dot = false) {
  const int64_t ldx = K + 1, ldw = K + 3, ldy = N + 2;
  std::vector<float> x = random_floats(M * ldx, seed);
  std::vector<uint8_t> w(N * ldw);
  std::mt19937 rng(seed + 1);
  for (auto& b : w) {
    b = static_cast<uint8_t>(rng() & 0xff);
    if ((b & 0x7f) == 0x7f) b ^= 1;  // no NaN codes
  }
  const int64_t ld_scale = (K + bk - 1) / bk;
  std::vector<float> scale = random_floats(((N + bn - 1) / bn) * ld_scale, seed + 2, 0.01f, 0.1f);
  GemmParams p = fp8_params(M, K, 1, N, x.data(), ldx, w.data(), ldw, scale.data(), ld_scale, ldy);
  p.block_n = bn;
  p.block_k = bk;
  p.bf16_dot = bf16_dot;
  std::vector<float> want(M * ldy, -7.0f), got(M * ldy, -7.0f);
  p.y = want.data();
  kernels_for(Isa::Scalar).gemm(p);
  p.y = got.data();
  kernels_for(isa).gemm(p);
  // The caller's word that W holds no NaN code (there is none) changes nothing in the results.
  std::vector<float> trusted(M * ldy, -7.0f);
  p.y = trusted.data();
  p.w_no_nan = true;
  kernels_for(isa).gemm(p);
  for (int64_t i = 0; i < M * ldy; ++i)
    ASSERT_EQ(std::bit_cast<uint32_t>(trusted[i]), std::bit_cast<uint32_t>(got[i]))
        << isa_name(isa) << " w_no_nan at " << i;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < ldy; ++n) {
      const float a = got[m * ldy + n], b = want[m * ldy + n];
      if (n < 1 || n >= N) {
        ASSERT_EQ(a, -7.0f) << "wrote outside its columns";
        continue;
      }
      double bound = 0;
      for (int64_t k = 0; k < K; ++k)
        bound += std::fabs(x[m * ldx + k]) * 448.0 * scale[(n / bn) * ld_scale + k / bk];
      ASSERT_LE(std::fabs(a - b), 2e-6 * std::sqrt(static_cast<double>(K)) * bound + 1e-30)
          << isa_name(isa) << " M=" << M << " K=" << K << " N=" << N << " bn=" << bn << " bk=" << bk
          << " at " << m << "," << n;
    }
}

// Sets how the fused kernels widen fp8 for the scope, then the CPU's default again.
struct WidenScope {
  explicit WidenScope(Fp8Widen w) { set_fp8_widen(w); }
  ~WidenScope() { reset_fp8_widen(); }
};

constexpr Fp8Widen kWidens[] = {Fp8Widen::F16, Fp8Widen::Subnormal};

TEST(GemmFp8, MatchesReference) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (Fp8Widen widen : kWidens) {
      WidenScope scope(widen);
      SCOPED_TRACE(widen == Fp8Widen::F16 ? "widened through f16" : "widened as f32 subnormals");
      uint32_t seed = 3;
      for (int64_t M : {1, 2, 3, 4, 5, 17})  // fused (M <= 4, passes below 64) and panel paths
        for (int64_t K : {1, 15, 144, 300})  // partial k blocks
          for (auto [bn, bk] : {std::pair<int64_t, int64_t>{128, 128}, {16, 16}, {7, 24}}) {
            check(isa, M, K, 150, bn, bk, seed++);
            if (HasFatalFailure()) return;
          }
      check(isa, 17, 1100, 300, 128, 128, seed++);  // passes over a longer K
      if (HasFatalFailure()) return;
      check(isa, kFp8PassesBelowM, 300, 150, 128, 128, seed++);  // panels, not passes
      if (HasFatalFailure()) return;
      // AVX2's widened panels: more W rows than one panel holds (232 at this K)
      check(isa, kFp8PassesBelowM + 3, 1100, 300, 128, 128, seed++);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(kFp8FusedMaxM, 0);
}

// bf16_dot (kernels.h): below kFp8Bf16PanelMinM X rows X times the block scale rounded to bf16
// (the AVX-512 fused bf16 kernel, in passes of 4 rows), from there on W times its scale and X
// rounded (the AVX-512 bf16 panels); the reference elsewhere.
TEST(GemmFp8, Bf16DotMatchesReference) {
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    uint32_t seed = 100;
    for (int64_t M : {1, 2, 3, 4, 5, 9, 40})
      for (int64_t K : {1, 15, 64, 144, 300})  // partial k blocks and 64-byte steps
        for (auto [bn, bk] : {std::pair<int64_t, int64_t>{128, 128}, {16, 16}, {7, 24}}) {
          check(isa, M, K, 150, bn, bk, seed++, /*bf16_dot=*/true);
          if (HasFatalFailure()) return;
        }
    check(isa, 3, 7168, 260, 128, 128, seed++, /*bf16_dot=*/true);  // DeepSeek's K
    if (HasFatalFailure()) return;
    check(isa, 17, 1100, 300, 128, 128, seed++, /*bf16_dot=*/true);
    if (HasFatalFailure()) return;
    check(isa, kFp8Bf16PanelMinM, 1100, 300, 128, 128, seed++, /*bf16_dot=*/true);  // panels
    if (HasFatalFailure()) return;
    for (int64_t M : {1, 2, 3, 4})  // MLA's transposed key half: K = block_k = nope
      for (int64_t K : {48, 64, 128}) {
        check(isa, M, K, 256, 128, K, seed++, /*bf16_dot=*/true);
        if (HasFatalFailure()) return;
      }
  }
}

// Every finite code in every byte position of a full 64-byte step of the AVX-512 bf16 kernel (the
// test above has K = 1: its partial step only), bit for bit as the reference: W row n holds the
// codes in turn from code n, so each code is in every place of some row; each X row is 1 at one
// column and 0 elsewhere, so each output is one exact product s * w (M = 1: each column in turn;
// M = 4: four columns a pass).
TEST(GemmFp8, Bf16DotEveryCodeInEveryPositionOfAStep) {
  if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512";
  std::vector<uint8_t> codes;
  for (int c = 0; c < 256; ++c)
    if ((c & 0x7f) != 0x7f) codes.push_back(static_cast<uint8_t>(c));
  const int64_t N = static_cast<int64_t>(codes.size()), K = 64;
  std::vector<uint8_t> w(N * K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) w[n * K + k] = codes[(n + k) % N];
  const std::vector<float> scale((N + 127) / 128, 0.25f);
  for (int64_t M : {1, 4})
    for (int64_t k0 = 0; k0 < K; k0 += M) {
      std::vector<float> x(M * K, 0.0f);
      for (int64_t m = 0; m < M; ++m) x[m * K + k0 + m] = 1.0f;
      std::vector<float> want(M * N), got(M * N);
      GemmParams p = fp8_params(M, K, 0, N, x.data(), K, w.data(), K, scale.data(), 1, N);
      p.bf16_dot = true;
      p.w_no_nan = true;
      p.y = want.data();
      kernels_for(Isa::Scalar).gemm(p);
      p.y = got.data();
      kernels_for(Isa::Avx512).gemm(p);
      for (int64_t i = 0; i < M * N; ++i) {
        const int64_t m = i / N, n = i % N;
        ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
            << "M=" << M << " column " << k0 + m << " code 0x" << std::hex
            << int{w[n * K + k0 + m]};
      }
    }
}

// Every finite code, subnormals and both zeros among them, decodes exactly by either way of
// widening and by the bf16 kernel: with K = 1 each output is one product, x * s * w, which the
// reference computes exactly too (x and s powers of two). X = 2^40 and 2^-40 put the products
// near neither f32 limit but far from 1, where a wrong power of two in the scaling would show.
// X values between bf16 values (products still exact in f32) show, with bf16_dot, that x * s (x
// with the panels, kFp8Bf16PanelMinM rows on) is rounded as the reference rounds it (to nearest,
// ties to even: 1 + 2^-10 down, 1 + 2^-8 a tie down to 1, 1 + 3 2^-8 a tie up).
TEST(GemmFp8, EveryCodeExactByEitherWidening) {
  std::vector<uint8_t> w;
  for (int c = 0; c < 256; ++c)
    if ((c & 0x7f) != 0x7f) w.push_back(static_cast<uint8_t>(c));
  const int64_t N = static_cast<int64_t>(w.size());
  const std::vector<float> scale((N + 127) / 128, 0.25f);
  for (bool bf16_dot : {false, true})
    for (float xv : {1.0f, 0x1p40f, 0x1p-40f, 1.0f + 0x1p-10f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f})
      for (int64_t M : {int64_t{1}, int64_t{2}, int64_t{4}, int64_t{5}, kFp8Bf16PanelMinM}) {
        const std::vector<float> x(M, xv);
        std::vector<float> want(M * N), got(M * N);
        GemmParams p = fp8_params(M, 1, 0, N, x.data(), 1, w.data(), 1, scale.data(), 1, N);
        p.bf16_dot = bf16_dot;
        p.y = want.data();
        kernels_for(Isa::Scalar).gemm(p);
        if (bf16_dot && xv == 1.0f + 0x1p-10f) {
          ASSERT_EQ(want[0x38], 0.25f);  // the reference rounds X: code 0x38 is 1.0
        }
        for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
          if (!isa_supported(isa)) continue;
          for (Fp8Widen widen : kWidens) {
            WidenScope scope(widen);
            p.y = got.data();
            kernels_for(isa).gemm(p);
            for (int64_t i = 0; i < M * N; ++i)
              ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
                  << isa_name(isa)
                  << (bf16_dot                 ? " bf16 dot"
                      : widen == Fp8Widen::F16 ? " f16"
                                               : " subnormal")
                  << " x=" << xv << " code 0x" << std::hex << int{w[i % N]};
          }
        }
      }
}

// Which operand bf16_dot rounds: with one column, x = 1, the code 0x39 (1.125) and a scale of 0.3
// (not a power of two), fewer than kFp8Bf16PanelMinM rows give bf16(0.3) * 1.125 (X times the
// scale rounded), more rows bf16(0.3 * 1.125) (W times the scale rounded): 0.338379 against
// 0.337891.
TEST(GemmFp8, Bf16DotRoundsXTimesScaleForFewRowsAndWTimesScaleForMore) {
  const uint8_t w = 0x39;
  const float scale = 0.3f;
  const float few = bf16_to_f32(f32_to_bf16(scale)) * 1.125f;
  const float more = bf16_to_f32(f32_to_bf16(scale * 1.125f));
  ASSERT_NE(few, more);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t M : {int64_t{1}, int64_t{4}, int64_t{5}, int64_t{9}, kFp8Bf16PanelMinM - 1,
                      kFp8Bf16PanelMinM, kFp8Bf16PanelMinM + 3}) {
      const std::vector<float> x(M, 1.0f);
      std::vector<float> y(M, 0.0f);
      GemmParams p = fp8_params(M, 1, 0, 1, x.data(), 1, &w, 1, &scale, 1, 1);
      p.bf16_dot = true;
      p.y = y.data();
      kernels_for(isa).gemm(p);
      for (int64_t m = 0; m < M; ++m)
        ASSERT_EQ(y[m], M < kFp8Bf16PanelMinM ? few : more) << isa_name(isa) << " M=" << M;
    }
  }
}

// The two ways of widening give the same bits on a whole GEMM (their powers of two change no
// rounding while the partial sums stay normal), so the CPU's choice between them never changes
// a model's output.
TEST(GemmFp8, WideningWaysAgreeBitForBit) {
  const int64_t K = 1000, N = 70;
  std::vector<uint8_t> w(N * K);
  std::mt19937 rng(11);
  for (auto& b : w) {
    b = static_cast<uint8_t>(rng() & 0xff);  // a sixteenth of them subnormal codes
    if ((b & 0x7f) == 0x7f) b ^= 1;
  }
  const int64_t ld_scale = (K + 127) / 128;
  const std::vector<float> scale = random_floats(ld_scale, 5, 0.001f, 0.1f);
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t M = 1; M <= kFp8FusedMaxM; ++M) {
      const std::vector<float> x = random_floats(M * K, static_cast<uint32_t>(20 + M));
      std::vector<float> y[2];
      for (int i = 0; i < 2; ++i) {
        WidenScope scope(kWidens[i]);
        y[i].assign(M * N, 0.0f);
        GemmParams p = fp8_params(M, K, 0, N, x.data(), K, w.data(), K, scale.data(), ld_scale, N);
        p.y = y[i].data();
        kernels_for(isa).gemm(p);
      }
      for (int64_t i = 0; i < M * N; ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(y[0][i]), std::bit_cast<uint32_t>(y[1][i]))
            << isa_name(isa) << " M=" << M << " at " << i;
    }
  }
}

// A NaN code (s.1111.111) in a row makes that output column NaN on every path, as the
// reference's products do; the other columns stay finite.
TEST(GemmFp8, NaNWeightGivesNaN) {
  const int64_t K = 300, N = 9;
  std::vector<uint8_t> w(N * K, 0x38);  // 1.0
  w[2 * K + 257] = 0x7f;
  w[7 * K + 3] = 0xff;
  std::vector<float> scale(((N + 127) / 128) * 3, 0.5f);
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (int64_t M :
         {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{5}, int64_t{17}, kFp8Bf16PanelMinM})
      for (int way = 0; way < 3; ++way) {  // the two ways of widening, then bf16_dot
        WidenScope scope(kWidens[way % 2]);
        std::vector<float> x(M * K, 1.0f), y(M * N, 0.0f);
        GemmParams p = fp8_params(M, K, 0, N, x.data(), K, w.data(), K, scale.data(), 3, N);
        p.bf16_dot = way == 2;
        p.y = y.data();
        kernels_for(isa).gemm(p);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            if (n == 2 || n == 7) {
              EXPECT_TRUE(std::isnan(y[m * N + n])) << isa_name(isa) << " M=" << M << " n=" << n;
            } else {
              EXPECT_EQ(y[m * N + n], 150.0f) << isa_name(isa) << " M=" << M << " n=" << n;
            }
          }
      }
  }
}

}  // namespace
}  // namespace r1::kernels
