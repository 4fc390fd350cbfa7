// The non-GEMM kernels of every SIMD ISA against the scalar reference (which sums in double).
// Tolerances: sums (dot) within 1e-6 * sqrt(n) * sum |a b|; element-wise results within 1e-6
// relative (rms_norm 2e-6, silu and softmax rely on the polynomial exp, < 1e-6 relative);
// conversions and add exact.
#include <cmath>
#include <limits>
#include <sstream>

#include "core/dtype.h"
#include "test_util.h"

namespace r1::kernels {
namespace {

using testing::encode;
using testing::random_floats;

const int64_t kSizes[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257, 1000, 4099};

class OpsTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override { R1_REQUIRE_ISA(GetParam()); }
  const KernelTable& simd() const { return kernels_for(GetParam()); }
  const KernelTable& ref() const { return kernels_for(Isa::Scalar); }
};

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel,
                  double abs, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = rel * std::fabs(want[i]) + abs;
    ASSERT_LE(std::fabs(static_cast<double>(got[i]) - want[i]), tol)
        << what << " at " << i << " of " << got.size() << ": got " << got[i] << " want " << want[i];
  }
}

TEST_P(OpsTest, Dot) {
  for (int64_t n : kSizes) {
    auto a = random_floats(n, 1), b = random_floats(n, 2);
    double bound = 0;
    for (int64_t i = 0; i < n; ++i) bound += std::fabs(static_cast<double>(a[i]) * b[i]);
    const float got = simd().dot(a.data(), b.data(), n), want = ref().dot(a.data(), b.data(), n);
    EXPECT_LE(std::fabs(got - want), 1e-6 * std::sqrt(static_cast<double>(n) + 1) * bound + 1e-30)
        << "n=" << n;
  }
}

TEST_P(OpsTest, AxpyAndAdd) {
  for (int64_t n : kSizes) {
    auto x = random_floats(n, 3), y0 = random_floats(n, 4);
    auto y_ref = y0, y = y0;
    ref().axpy(0.37f, x.data(), y_ref.data(), n);
    simd().axpy(0.37f, x.data(), y.data(), n);
    expect_close(y, y_ref, 1e-6, 1e-7, "axpy n=" + std::to_string(n));  // FMA vs mul+add
    std::vector<float> s_ref(n), s(n);
    ref().add(x.data(), y0.data(), s_ref.data(), n);
    simd().add(x.data(), y0.data(), s.data(), n);
    expect_close(s, s_ref, 0, 0, "add n=" + std::to_string(n));
    simd().add(y0.data(), x.data(), y0.data(), n);  // y aliases a
    expect_close(y0, s_ref, 0, 0, "add in place n=" + std::to_string(n));
  }
}

// Small integers, so every order of summation gives the exact total: each of the runs (x + j *
// stride, a gap between them that must not be read) counts, and nothing past n.
TEST_P(OpsTest, SumStreamsReadsEveryRun) {
  for (int streams = 1; streams <= 8; ++streams)
    for (int64_t n : kSizes) {
      const int64_t stride = n + 5;
      std::vector<float> x(streams * stride + 8, 1000.0f);  // gaps and tail: not to be summed
      for (int j = 0; j < streams; ++j)
        for (int64_t i = 0; i < n; ++i)
          x[j * stride + i] = static_cast<float>((i * 7 + j) % 13 - 6);
      double exact = 0;
      for (int j = 0; j < streams; ++j)
        for (int64_t i = 0; i < n; ++i) exact += x[j * stride + i];
      const std::string what = std::to_string(streams) + " streams, n=" + std::to_string(n);
      EXPECT_EQ(ref().sum_streams(x.data(), stride, n, streams), static_cast<float>(exact))
          << "reference, " << what;
      EXPECT_EQ(simd().sum_streams(x.data(), stride, n, streams), static_cast<float>(exact))
          << what;
    }
}

TEST_P(OpsTest, RmsNorm) {
  for (DType t : {DType::F32, DType::BF16, DType::F16}) {
    for (int64_t n : kSizes) {
      if (n == 0) continue;
      auto x = random_floats(n, 5, -3.0f, 3.0f);
      auto w = encode(random_floats(n, 6, 0.5f, 1.5f), t);
      std::vector<float> y_ref(n), y(n);
      ref().rms_norm(x.data(), w.data(), t, 1e-6f, y_ref.data(), n);
      simd().rms_norm(x.data(), w.data(), t, 1e-6f, y.data(), n);
      const std::string what = std::string("rms_norm ") + dtype_name(t) + " n=" + std::to_string(n);
      expect_close(y, y_ref, 2e-6, 1e-7, what);
      simd().rms_norm(x.data(), w.data(), t, 1e-6f, x.data(), n);  // in place
      expect_close(x, y_ref, 2e-6, 1e-7, what + " in place");
    }
  }
}

TEST_P(OpsTest, SiluMul) {
  for (int64_t n : kSizes) {
    auto g = random_floats(n, 7, -20.0f, 20.0f), u = random_floats(n, 8);
    std::vector<float> y_ref(n), y(n);
    ref().silu_mul(g.data(), u.data(), y_ref.data(), n);
    simd().silu_mul(g.data(), u.data(), y.data(), n);
    expect_close(y, y_ref, 1e-6, 1e-30, "silu_mul n=" + std::to_string(n));
    simd().silu_mul(g.data(), u.data(), g.data(), n);  // y aliases g
    expect_close(g, y_ref, 1e-6, 1e-30, "silu_mul in place n=" + std::to_string(n));
  }
}

// silu_mul's gradients, written and added, each output alone and both, in place of neither input.
// Tolerance from the size of the terms: 1 + g (1 - s) cancels near g = -1.28.
TEST_P(OpsTest, SiluMulGrad) {
  for (int64_t n : kSizes) {
    auto g = random_floats(n, 10, -20.0f, 20.0f), u = random_floats(n, 11),
         dy = random_floats(n, 12);
    auto dg0 = random_floats(n, 13), du0 = random_floats(n, 14);
    std::vector<double> bound_g(n), bound_u(n);
    for (int64_t i = 0; i < n; ++i) {
      const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(g[i])));
      bound_g[i] = std::fabs(dy[i] * u[i]) * s * (1.0 + std::fabs(g[i])) + std::fabs(dg0[i]);
      bound_u[i] = std::fabs(dy[i] * g[i]) * s + std::fabs(du0[i]);
    }
    auto check = [&](const std::vector<float>& got, const std::vector<float>& want,
                     const std::vector<double>& bound, const std::string& what) {
      for (int64_t i = 0; i < n; ++i)
        ASSERT_LE(std::fabs(static_cast<double>(got[i]) - want[i]), 2e-6 * bound[i] + 1e-30)
            << what << " n=" << n << " at " << i << ": got " << got[i] << " want " << want[i];
    };
    for (int mode = 0; mode < 6; ++mode) {
      const bool with_g = mode != 4, with_u = mode != 5, add_g = mode & 1, add_u = mode & 2;
      auto dg_ref = dg0, du_ref = du0, dg = dg0, du = du0;
      ref().silu_mul_grad(g.data(), u.data(), dy.data(), with_g ? dg_ref.data() : nullptr, add_g,
                          with_u ? du_ref.data() : nullptr, add_u, n);
      simd().silu_mul_grad(g.data(), u.data(), dy.data(), with_g ? dg.data() : nullptr, add_g,
                           with_u ? du.data() : nullptr, add_u, n);
      const std::string what = "mode " + std::to_string(mode);
      check(dg, dg_ref, bound_g, what + " dg");
      check(du, du_ref, bound_u, what + " du");
      if (!with_g) {
        EXPECT_EQ(dg, dg0) << what;  // a null output is left alone
      }
      if (!with_u) {
        EXPECT_EQ(du, du0) << what;
      }
    }
  }
}

// The polynomial exp through silu(g) * 1 over its whole range, against double precision.
TEST_P(OpsTest, ExpAccuracyThroughSilu) {
  const int64_t n = 200001;
  std::vector<float> g(n), one(n, 1.0f), y(n);
  for (int64_t i = 0; i < n; ++i) g[i] = -87.0f + 175.0f * static_cast<float>(i) / (n - 1);
  simd().silu_mul(g.data(), one.data(), y.data(), n);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i])));
    if (want == 0) continue;
    worst = std::max(worst, std::fabs(y[i] - want) / std::fabs(want));
  }
  EXPECT_LT(worst, 1e-6);
  std::ostringstream text;
  text << worst;
  RecordProperty("worst_relative_error", text.str());  // 2.5e-7 on Zen 4, both ISAs
}

TEST_P(OpsTest, Softmax) {
  for (int64_t n : kSizes) {
    if (n == 0) continue;
    for (float range : {1.0f, 30.0f, 200.0f}) {
      auto x_ref = random_floats(n, 9, -range, range);
      auto x = x_ref;
      ref().softmax(x_ref.data(), n);
      simd().softmax(x.data(), n);
      expect_close(x, x_ref, 1e-6, 1e-12,
                   "softmax n=" + std::to_string(n) + " range=" + std::to_string(range));
    }
  }
}

// exp_sum: each value within the exp's error, the sum within that plus float summation.
TEST_P(OpsTest, ExpSum) {
  for (int64_t n : kSizes) {
    for (float shift : {0.0f, 7.5f, -3.0f}) {
      auto x_ref = random_floats(n, 15, -30.0f, 10.0f);
      auto x = x_ref;
      const float want = ref().exp_sum(x_ref.data(), shift, n);
      const float got = simd().exp_sum(x.data(), shift, n);
      const std::string what = "exp_sum n=" + std::to_string(n) + " shift=" + std::to_string(shift);
      expect_close(x, x_ref, 1e-6, 1e-37, what);
      EXPECT_NEAR(got, want, 2e-6 * std::fabs(want) + 1e-37) << what;
    }
  }
}

// x_to_bf16 from rows and from k-major storage: every value rounded as f32_to_bf16 rounds it
// (the reference), zeros from K to the row stride.
TEST_P(OpsTest, XToBf16BothLayouts) {
  for (int64_t M : {1, 5, 16, 17, 40}) {
    for (int64_t K : {1, 31, 32, 33, 100}) {
      for (bool trans : {false, true}) {
        const int64_t ldx = (trans ? M : K) + 3, ldb = (K + 31) / 32 * 32 + 32;
        const auto x = random_floats((trans ? K : M) * ldx, 16, -50.0f, 50.0f);
        std::vector<uint16_t> got(M * ldb, 0xffff), want(M * ldb);
        ref().x_to_bf16(x.data(), ldx, trans, M, K, want.data(), ldb);
        simd().x_to_bf16(x.data(), ldx, trans, M, K, got.data(), ldb);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t k = 0; k < ldb; ++k) {
            const float v = k >= K ? 0.0f : trans ? x[k * ldx + m] : x[m * ldx + k];
            ASSERT_EQ(want[m * ldb + k], k < K ? f32_to_bf16(v) : 0) << "reference";
            ASSERT_EQ(got[m * ldb + k], want[m * ldb + k])
                << "M=" << M << " K=" << K << " trans=" << trans << " at " << m << "," << k;
          }
      }
    }
  }
}

TEST_P(OpsTest, ToF32ExhaustiveSmallTypes) {
  // Every bf16 and f16 bit pattern, every f8_e4m3 byte: exact, NaN for NaN.
  for (DType t : {DType::BF16, DType::F16, DType::F8_E4M3}) {
    const int64_t count = t == DType::F8_E4M3 ? 256 : 65536;
    std::vector<uint8_t> src(count * dtype_size(t));
    for (int64_t i = 0; i < count; ++i) {
      if (t == DType::F8_E4M3) {
        src[i] = static_cast<uint8_t>(i);
      } else {
        const uint16_t h = static_cast<uint16_t>(i);
        std::memcpy(src.data() + 2 * i, &h, 2);
      }
    }
    for (int64_t n : {count, count - 3}) {  // the second ends in a partial vector
      std::vector<float> want(n), got(n);
      ref().to_f32(src.data(), t, want.data(), n);
      simd().to_f32(src.data(), t, got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(want[i])) {
          ASSERT_TRUE(std::isnan(got[i])) << dtype_name(t) << " pattern " << i;
        } else {
          ASSERT_EQ(got[i], want[i]) << dtype_name(t) << " pattern " << i;
          ASSERT_EQ(std::signbit(got[i]), std::signbit(want[i])) << dtype_name(t) << " " << i;
        }
      }
    }
  }
  for (int64_t n : kSizes) {
    auto f = random_floats(n, 10);
    std::vector<float> got(n);
    simd().to_f32(f.data(), DType::F32, got.data(), n);
    expect_close(got, f, 0, 0, "to_f32 f32 n=" + std::to_string(n));
  }
}

// The attention kernels on f32 and bf16 rows at odd strides (through their pointers, in reverse
// order), every head count up to past one register group and, for the GEMM-shaped kernels of
// prefill tiles (kAttnWideRows rows on), 24 and 31 rows (several 6-row tiles and a partial one),
// head sizes around the vector widths, row counts around the row groups (8 on AVX2, 16 on
// AVX-512), the 64-key chunks and the 256-row value passes: each result (and the reference's)
// within float rounding of the double sum over the decoded rows, and nothing written past n
// scores.
TEST_P(OpsTest, AttentionScoresAndValues) {
  for (DType dt : {DType::F32, DType::BF16}) {
    for (int64_t G : {1, 3, 4, 6, 7, 24, 31}) {
      for (int64_t D : {1, 5, 16, 25, 33, 64, 80, 128}) {
        for (int64_t n : {1, 7, 8, 16, 17, 40, 65, 300}) {
          const int64_t ld = D + 3, lds = n + 2;
          const std::string what = std::string(dtype_name(dt)) + " G=" + std::to_string(G) +
                                   " D=" + std::to_string(D) + " n=" + std::to_string(n);
          const auto rows_f = random_floats(n * ld, 20, -2.0f, 2.0f);
          const auto rows = encode(rows_f, dt);
          // Row j is stored row n - 1 - j: the kernels follow the pointers, whatever the order.
          std::vector<const void*> ptrs(n);
          for (int64_t j = 0; j < n; ++j)
            ptrs[j] = rows.data() + (n - 1 - j) * ld * (dt == DType::F32 ? 4 : 2);
          auto row = [&](int64_t j, int64_t d) {  // the stored value, decoded
            const float f = rows_f[(n - 1 - j) * ld + d];
            return dt == DType::F32 ? f : bf16_to_f32(f32_to_bf16(f));
          };
          const auto q = random_floats(G * D, 21), p = random_floats(G * lds, 22, 0.0f, 1.0f);
          for (const KernelTable* kt : {&ref(), &simd()}) {
            std::vector<float> s(G * lds, 7.0f);
            kt->attn_scores(q.data(), G, D, ptrs.data(), dt, n, 0.125f, s.data(), lds);
            for (int64_t g = 0; g < G; ++g)
              for (int64_t j = 0; j < lds; ++j) {
                double sum = 0, bound = 0;
                for (int64_t d = 0; d < D && j < n; ++d) {
                  sum += static_cast<double>(q[g * D + d]) * row(j, d);
                  bound += std::fabs(static_cast<double>(q[g * D + d]) * row(j, d));
                }
                const double want = j < n ? 0.125 * sum : 7.0;
                ASSERT_NEAR(s[g * lds + j], want, 1e-6 * std::sqrt(D + 1.0) * bound + 1e-30)
                    << isa_name(kt->isa) << " " << what << " score " << g << "," << j;
              }
            const auto o0 = random_floats(G * D, 23);
            auto o = o0;
            kt->attn_values(p.data(), lds, G, D, ptrs.data(), dt, n, o.data());
            for (int64_t g = 0; g < G; ++g)
              for (int64_t d = 0; d < D; ++d) {
                double sum = o0[g * D + d], bound = std::fabs(sum);
                for (int64_t j = 0; j < n; ++j) {
                  sum += static_cast<double>(p[g * lds + j]) * row(j, d);
                  bound += std::fabs(static_cast<double>(p[g * lds + j]) * row(j, d));
                }
                ASSERT_NEAR(o[g * D + d], sum, 1e-6 * std::sqrt(n + 1.0) * bound + 1e-30)
                    << isa_name(kt->isa) << " " << what << " output " << g << "," << d;
              }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SimdIsas, OpsTest, ::testing::Values(Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace r1::kernels
