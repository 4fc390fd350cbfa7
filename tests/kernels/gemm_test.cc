// Every SIMD GEMM against the scalar reference: all W dtypes, odd M and K, unaligned column
// ranges, padded strides. Tolerance: |y - y_ref| <= 2e-6 * sqrt(K) * sum_k |x_k w_k| (+ tiny):
// both sides sum in f32 in different orders (and FMA skips the product rounding), so the
// difference is float rounding of a K-term sum; bf16 uses bf16-rounded x in the bound.
#include <cmath>

#include "core/dtype.h"
#include "kernels/cpu/cpu_kernels.h"
#include "test_util.h"

namespace r1::kernels {
namespace {

using testing::encode;
using testing::random_floats;

constexpr float kSentinel = 12345.0f;

struct Case {
  int64_t M, K, N, n_begin, n_end;
};

// gemm() chooses a path by shape; the tests also run each path on every shape.
enum class Path { Auto, SmallM, LargeM };
const char* path_name(Path path) {
  return path == Path::Auto ? "auto" : path == Path::SmallM ? "small_m" : "large_m";
}

using GemmFn = void (*)(const GemmParams&);
GemmFn gemm_fn(Isa isa, Path path) {
  if (path == Path::Auto) return kernels_for(isa).gemm;
  if (isa == Isa::Avx2) return path == Path::SmallM ? avx2::gemm_small_m : avx2::gemm_large_m;
  return path == Path::SmallM ? avx512::gemm_small_m : avx512::gemm_large_m;
}

// Runs one case on `isa` and compares with the scalar reference (fatal failure on mismatch).
void check_case(Isa isa, Path path, const Case& c, DType t, uint32_t seed, bool dot = false) {
  const int64_t ldx = c.K + 3, ldw = c.K + 5, ldy = c.N + 7;
  std::vector<float> x = random_floats(c.M * ldx, seed);
  std::vector<uint8_t> w = encode(random_floats(c.N * ldw, seed + 1), t);
  GemmParams p;
  p.M = c.M;
  p.K = c.K;
  p.n_begin = c.n_begin;
  p.n_end = c.n_end;
  p.x = x.data();
  p.ldx = ldx;
  p.w = w.data();
  p.ldw = ldw;
  p.wtype = t;
  p.bf16_dot = dot;
  p.ldy = ldy;
  std::vector<float> y_ref(c.M * ldy, kSentinel);
  p.y = y_ref.data();
  kernels_for(Isa::Scalar).gemm(p);

  // Per-output bound: sum |x w| with the values the contract multiplies.
  std::vector<float> wf(c.N * ldw);
  kernels_for(Isa::Scalar).to_f32(w.data(), t, wf.data(), c.N * ldw);
  {
    std::vector<float> y(c.M * ldy, kSentinel);
    p.y = y.data();
    gemm_fn(isa, path)(p);
    for (int64_t m = 0; m < c.M; ++m) {
      for (int64_t n = 0; n < ldy; ++n) {
        const float got = y[m * ldy + n], want = y_ref[m * ldy + n];
        if (n < c.n_begin || n >= c.n_end) {
          ASSERT_EQ(got, kSentinel)
              << isa_name(isa) << " wrote outside its columns: m=" << m << " n=" << n;
          continue;
        }
        double bound = 0;
        for (int64_t k = 0; k < c.K; ++k) {
          float xk = x[m * ldx + k];
          float wk = wf[n * ldw + k];
          if (dot) xk = bf16_to_f32(f32_to_bf16(xk));  // bf16 dot: X rounded, and f32 W
          if (t == DType::F32 && dot) wk = bf16_to_f32(f32_to_bf16(wk));
          bound += std::fabs(static_cast<double>(xk) * wk);
        }
        const double tol = 2e-6 * std::sqrt(static_cast<double>(c.K)) * bound + 1e-30;
        ASSERT_LE(std::fabs(static_cast<double>(got) - want), tol)
            << isa_name(isa) << " " << path_name(path) << " " << dtype_name(t)
            << (dot ? " bf16_dot" : "") << " M=" << c.M << " K=" << c.K << " n=[" << c.n_begin
            << "," << c.n_end << ") at m=" << m << " n=" << n << " got " << got << " want " << want;
      }
    }
    // X rounded to bf16 beforehand (GemmParams::xb, as linear() hands it to every column range):
    // the same results, bit for bit.
    if (dot) {
      const int64_t ldxb = (c.K + 31) / 32 * 32 + 32;
      std::vector<uint16_t> xb(c.M * ldxb, 0xffff);
      kernels_for(Isa::Scalar).x_to_bf16(x.data(), ldx, false, c.M, c.K, xb.data(), ldxb);
      p.xb = xb.data();
      p.ldxb = ldxb;
      std::vector<float> y2(c.M * ldy, kSentinel);
      p.y = y2.data();
      gemm_fn(isa, path)(p);
      ASSERT_EQ(y2, y) << isa_name(isa) << " " << path_name(path) << " " << dtype_name(t)
                       << " with X given in bf16, M=" << c.M << " K=" << c.K;
    }
  }
}

class GemmTest : public ::testing::TestWithParam<std::tuple<Isa, DType, Path>> {
 protected:
  Isa isa() const { return std::get<0>(GetParam()); }
  DType wtype() const { return std::get<1>(GetParam()); }
  Path path() const { return std::get<2>(GetParam()); }
  // bf16 and f32 W run both numerics: exact, and bf16 dot products (X rounded, f32 W too).
  std::vector<bool> modes() const {
    return wtype() == DType::F16 ? std::vector<bool>{false} : std::vector<bool>{false, true};
  }
};

TEST_P(GemmTest, MatchesReferenceOnOddShapes) {
  R1_REQUIRE_ISA(isa());
  uint32_t seed = 1;
  for (int64_t M : {1, 2, 3, 5, 7, 8, 13, 33, 64, 100}) {
    for (int64_t K : {1, 3, 15, 16, 17, 31, 64, 100, 257, 1000}) {
      for (auto [N, b, e] : {std::tuple<int64_t, int64_t, int64_t>{37, 0, 37},
                             {37, 3, 29},
                             {70, 5, 6},
                             {70, 1, 66}}) {
        for (bool dot : modes()) {
          check_case(isa(), path(), {M, K, N, b, e}, wtype(), seed++, dot);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Sizes that cross the blocking of the packed (prefill) path in every direction.
TEST_P(GemmTest, MatchesReferenceOnLargeBlockedShapes) {
  R1_REQUIRE_ISA(isa());
  for (Case c : {Case{37, 700, 1100, 13, 1090}, Case{130, 1100, 300, 0, 300},
                 Case{9, 513, 1030, 17, 1030}, Case{200, 64, 96, 31, 95}}) {
    for (bool dot : modes()) {
      check_case(isa(), path(), c, wtype(), 99, dot);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(GemmTest, EmptyRangeAndZeroK) {
  R1_REQUIRE_ISA(isa());
  for (GemmFn gemm : {kernels_for(Isa::Scalar).gemm, gemm_fn(isa(), path())}) {
    std::vector<float> x(8, 1.0f), y(8, kSentinel);
    std::vector<uint8_t> w(64, 0);
    GemmParams p;
    p.M = 2;
    p.K = 0;
    p.n_begin = 1;
    p.n_end = 3;
    p.x = x.data();
    p.ldx = 4;
    p.w = w.data();
    p.ldw = 4;
    p.wtype = wtype();
    p.y = y.data();
    p.ldy = 4;
    gemm(p);
    EXPECT_EQ(y[0], kSentinel);
    EXPECT_EQ(y[1], 0.0f);
    EXPECT_EQ(y[6], 0.0f);
    EXPECT_EQ(y[7], kSentinel);
    p.K = 4;
    p.n_end = 1;  // empty range: nothing written
    std::fill(y.begin(), y.end(), kSentinel);
    gemm(p);
    for (float v : y) EXPECT_EQ(v, kSentinel);
  }
}

// Transposed operands (f32): X and / or W stored k-major, as the backward of a linear layer reads
// them, and accumulation into Y, each with exact and with bf16 products. Checked against the sum
// written out in double from the same storage, for the scalar reference and every ISA and path;
// columns outside the range untouched.
TEST(GemmTransposed, EveryLayoutAndAccumulationMatchTheSum) {
  const Case cases[] = {{1, 13, 40, 0, 40},   {7, 1, 75, 5, 70},      {33, 257, 75, 5, 70},
                        {70, 300, 33, 1, 33}, {300, 64, 130, 0, 130}, {129, 531, 17, 3, 16}};
  struct Fn {
    const char* name;
    GemmFn fn;
  };
  std::vector<Fn> fns = {{"scalar", kernels_for(Isa::Scalar).gemm}};
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (Path path : {Path::Auto, Path::SmallM, Path::LargeM})
      fns.push_back({isa_name(isa), gemm_fn(isa, path)});
  }
  uint32_t seed = 7;
  for (const Case& c : cases)
    for (int layout = 1; layout < 16; ++layout) {
      // dot: bf16 products, X and W each rounded to bf16 (the sum below rounds them likewise)
      const bool xt = layout & 1, wt = layout & 2, acc = layout & 4, dot = layout & 8;
      // X [M, K] row-major (ldx >= K) or k-major (ldx >= M); W [N, K] likewise.
      const int64_t ldx = (xt ? c.M : c.K) + 3, ldw = (wt ? c.N : c.K) + 5, ldy = c.N + 7;
      const std::vector<float> x = random_floats((xt ? c.K : c.M) * ldx, seed++);
      const std::vector<float> w = random_floats((wt ? c.K : c.N) * ldw, seed++);
      auto rounded = [&](float v) { return dot ? bf16_to_f32(f32_to_bf16(v)) : v; };
      auto X = [&](int64_t m, int64_t k) { return rounded(xt ? x[k * ldx + m] : x[m * ldx + k]); };
      auto W = [&](int64_t n, int64_t k) { return rounded(wt ? w[k * ldw + n] : w[n * ldw + k]); };
      GemmParams p;
      p.M = c.M;
      p.K = c.K;
      p.n_begin = c.n_begin;
      p.n_end = c.n_end;
      p.x = x.data();
      p.ldx = ldx;
      p.w = w.data();
      p.ldw = ldw;
      p.ldy = ldy;
      p.x_trans = xt;
      p.w_trans = wt;
      p.accumulate = acc;
      p.bf16_dot = dot;
      const float y0 = acc ? 0.75f : 0.0f;  // accumulated onto
      for (const Fn& f : fns) {
        std::vector<float> y(c.M * ldy, kSentinel);
        for (int64_t m = 0; m < c.M; ++m)
          for (int64_t n = c.n_begin; n < c.n_end; ++n) y[m * ldy + n] = y0;
        p.y = y.data();
        f.fn(p);
        for (int64_t m = 0; m < c.M; ++m)
          for (int64_t n = 0; n < ldy; ++n) {
            const float got = y[m * ldy + n];
            if (n < c.n_begin || n >= c.n_end) {
              ASSERT_EQ(got, kSentinel) << f.name << " wrote outside its columns";
              continue;
            }
            double want = y0, bound = y0;
            for (int64_t k = 0; k < c.K; ++k) {
              const double prod = static_cast<double>(X(m, k)) * W(n, k);
              want += prod;
              bound += std::fabs(prod);
            }
            ASSERT_LE(std::fabs(got - want), 2e-6 * std::sqrt(static_cast<double>(c.K)) * bound)
                << f.name << " x_trans=" << xt << " w_trans=" << wt << " accumulate=" << acc
                << " bf16_dot=" << dot << " M=" << c.M << " K=" << c.K << " at m=" << m
                << " n=" << n;
          }
      }
    }
}

INSTANTIATE_TEST_SUITE_P(SimdIsasWeightTypesAndPaths, GemmTest,
                         ::testing::Combine(::testing::Values(Isa::Avx2, Isa::Avx512),
                                            ::testing::Values(DType::F32, DType::BF16, DType::F16),
                                            ::testing::Values(Path::Auto, Path::SmallM,
                                                              Path::LargeM)),
                         [](const auto& info) {
                           return std::string(isa_name(std::get<0>(info.param))) + "_" +
                                  dtype_name(std::get<1>(info.param)) + "_" +
                                  path_name(std::get<2>(info.param));
                         });

}  // namespace
}  // namespace r1::kernels
