// linear() on fp8 weights: the products against the widened weights, and the NaN look-up a
// loaded weight gets on its first use (Weight::fp8_scan), which lets the kernels skip theirs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ops/ops.h"

namespace r1::ops {
namespace {

constexpr int64_t kN = 150, kK = 300;  // two block_n groups, the second partial; 3 k blocks

// Random finite e4m3 codes (no NaN) with 128 x 128 block scales.
Weight random_fp8(uint32_t seed) {
  std::mt19937 rng(seed);
  Weight w;
  w.w = Tensor::zeros(DType::F8_E4M3, {kN, kK});
  uint8_t* b = w.w.ptr<uint8_t>();
  for (int64_t i = 0; i < kN * kK; ++i) {
    b[i] = static_cast<uint8_t>(rng() & 0xff);
    if ((b[i] & 0x7f) == 0x7f) b[i] ^= 1;
  }
  w.scale = Tensor::zeros(DType::F32, {2, 3});
  std::uniform_real_distribution<float> u(0.01f, 0.1f);
  for (int64_t i = 0; i < 6; ++i) w.scale.ptr<float>()[i] = u(rng);
  return w;
}

Tensor random_x(int64_t M, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Tensor x = Tensor::zeros(DType::F32, {M, kK});
  for (int64_t i = 0; i < M * kK; ++i) x.ptr<float>()[i] = u(rng);
  return x;
}

// x . w^T in double from the widened rows (w times its block scales).
std::vector<double> reference(const Tensor& x, const Weight& w) {
  std::vector<float> wf(static_cast<size_t>(kN * kK));
  widen_rows(w, 0, kN, wf.data());
  const int64_t M = x.dim(0);
  std::vector<double> y(static_cast<size_t>(M * kN), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < kN; ++n)
      for (int64_t k = 0; k < kK; ++k)
        y[m * kN + n] += static_cast<double>(x.ptr<float>()[m * kK + k]) * wf[n * kK + k];
  return y;
}

// Whether y is the reference within float rounding, except columns nan_col (NaN on every row).
void expect_matches(const Tensor& y, const std::vector<double>& want, int64_t nan_col = -1) {
  const int64_t M = y.dim(0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < kN; ++n) {
      const float got = y.ptr<float>()[m * kN + n];
      if (n == nan_col) {
        EXPECT_TRUE(std::isnan(got)) << "M=" << M << " row " << m << " column " << n;
      } else {
        EXPECT_NEAR(got, want[m * kN + n], 1e-4 * (1.0 + std::fabs(want[m * kN + n])))
            << "M=" << M << " row " << m << " column " << n;
      }
    }
}

// M = 1 and 3 run the fused kernel (serially and on the pool), 9 the widened panels.
TEST(LinearFp8, ScannedAndUnscannedWeightsGiveTheReference) {
  for (int64_t M : {1, 3, 9}) {
    Weight plain = random_fp8(7);
    Weight scanned = plain;
    scanned.fp8_scan = std::make_shared<Fp8Scan>();
    const Tensor x = random_x(M, 11);
    const std::vector<double> want = reference(x, plain);
    expect_matches(linear(x, plain), want);
    expect_matches(linear(x, scanned), want);
    EXPECT_EQ(scanned.fp8_scan->data, scanned.w.data);
    EXPECT_TRUE(scanned.fp8_scan->no_nan);
  }
}

// A NaN code makes its column NaN whether or not the weight was scanned, and a weight whose
// data is replaced is scanned again (the clean weight's finding is not reused).
TEST(LinearFp8, NaNCodeFoundOnFirstUseAndAfterTheDataChanges) {
  for (int64_t M : {1, 3, 9}) {
    Weight w = random_fp8(5);
    w.fp8_scan = std::make_shared<Fp8Scan>();
    const Tensor x = random_x(M, 13);
    expect_matches(linear(x, w), reference(x, w));
    ASSERT_TRUE(w.fp8_scan->no_nan);

    Weight bad = random_fp8(5);
    bad.w.ptr<uint8_t>()[37 * kK + 201] = 0xff;
    const std::vector<double> want = reference(x, bad);
    w.w = bad.w;  // the same scan record, new data
    expect_matches(linear(x, w), want, 37);
    EXPECT_FALSE(w.fp8_scan->no_nan);

    bad.w.ptr<uint8_t>()[37 * kK + 201] = 0x7f;
    bad.fp8_scan = std::make_shared<Fp8Scan>();
    expect_matches(linear(x, bad), want, 37);
    EXPECT_FALSE(bad.fp8_scan->no_nan);
  }
}

}  // namespace
}  // namespace r1::ops
