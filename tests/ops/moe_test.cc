// DeepSeekMoE noaux_tc routing against values worked out by hand from the formula
// (docs/FACTS.md section 2).
#include "ops/moe.h"

#include "core/dtype.h"
#include "ops/ops.h"

#include <gtest/gtest.h>

#include <cmath>

namespace r1::ops {
namespace {

float logit(float p) {
  return std::log(p / (1 - p));
}

Tensor row_tensor(const std::vector<std::vector<float>>& rows) {
  Tensor t = Tensor::zeros(
      DType::F32, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) t.ptr<float>()[i * rows[0].size() + j] = rows[i][j];
  return t;
}

TEST(MoeRouting, GroupLimitedTopKWithUnbiasedWeights) {
  // 8 experts in 4 groups of 2; sigmoid scores s chosen directly.
  const std::vector<float> s = {0.9f, 0.1f, 0.5f, 0.6f, 0.8f, 0.7f, 0.2f, 0.3f};
  std::vector<float> l;
  for (float p : s) l.push_back(logit(p));
  Tensor logits = row_tensor({l});
  MoeRouting r;
  r.n_group = 4;
  r.topk_group = 2;
  r.top_k = 3;
  r.routed_scaling_factor = 2.5f;
  // Biased: {0.9, 0.1 | 0.5, 0.6 | 0.8, 0.7 | 0.2, 1.2}; group sums of top-2: 1.0, 1.1, 1.5, 1.4
  // -> groups 2 and 3 kept; experts {4: 0.8, 5: 0.7, 6: 0.2, 7: 1.2}; top-3 = 7, 4, 5.
  Tensor bias = Tensor::zeros(DType::F32, {8});
  bias.ptr<float>()[7] = 0.9f;  // lifts expert 7, for selection only
  auto c = route_experts(logits, bias, r)[0];
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].expert, 7);
  EXPECT_EQ(c[1].expert, 4);
  EXPECT_EQ(c[2].expert, 5);
  // Weights from the UNBIASED scores 0.3, 0.8, 0.7, normalized, times 2.5.
  EXPECT_NEAR(c[0].weight, 0.3f / 1.8f * 2.5f, 1e-5);
  EXPECT_NEAR(c[1].weight, 0.8f / 1.8f * 2.5f, 1e-5);
  EXPECT_NEAR(c[2].weight, 0.7f / 1.8f * 2.5f, 1e-5);
  // Expert 0 (score 0.9, the best unbiased one) is in a dropped group: never chosen.
}

TEST(MoeRouting, MaskedGroupsAreMinusInfinityNotZero) {
  // With a negative bias every kept expert's biased score is below 0: masking dropped groups
  // with 0 (as some HF copies do) would pick a dropped expert; -inf (official) never does.
  const std::vector<float> s = {0.2f, 0.1f, 0.3f, 0.25f};
  std::vector<float> l;
  for (float p : s) l.push_back(logit(p));
  Tensor bias = Tensor::zeros(DType::F32, {4});
  for (int i = 0; i < 4; ++i) bias.ptr<float>()[i] = -1.0f;
  MoeRouting r;
  r.n_group = 2;
  r.topk_group = 1;
  r.top_k = 2;
  auto c = route_experts(row_tensor({l}), bias, r)[0];
  // Group 1 (0.3 + 0.25 - 2) beats group 0 (0.2 + 0.1 - 2): experts 2 and 3 only.
  EXPECT_EQ(c[0].expert, 2);
  EXPECT_EQ(c[1].expert, 3);
  EXPECT_NEAR(c[0].weight + c[1].weight, 1.0f, 1e-6);
}

}  // namespace
}  // namespace r1::ops

namespace r1::ops {
namespace {

// The router's product ignores the bf16 dot-product mode: its f32 inputs are not rounded, so its
// logits are those of the exact path (linear with the mode off), where linear with the mode on
// differs.
TEST(MoeRouting, RouterLogitsStayExactUnderBf16DotProducts) {
  const int64_t T = 5, H = 64, E = 16;
  Tensor x = Tensor::empty(DType::F32, {T, H});
  Weight w;
  w.w = Tensor::empty(DType::BF16, {E, H});
  for (int64_t i = 0; i < T * H; ++i) x.ptr<float>()[i] = std::sin(0.37f * i) * 1.7f + 0.01f * i;
  for (int64_t i = 0; i < E * H; ++i) w.w.ptr<uint16_t>()[i] = f32_to_bf16(std::cos(0.11f * i));
  set_fast_bf16(false);
  const Tensor exact = linear(x, w);
  set_fast_bf16(true);
  const Tensor fast = linear(x, w), router = linear_exact(x, w);
  set_fast_bf16(false);
  int differ = 0;
  for (int64_t i = 0; i < T * E; ++i) {
    EXPECT_EQ(router.ptr<float>()[i], exact.ptr<float>()[i]) << i;
    differ += fast.ptr<float>()[i] != exact.ptr<float>()[i];
  }
  EXPECT_GT(differ, T * E / 2);
}

}  // namespace
}  // namespace r1::ops

namespace r1::ops {
namespace {

Tensor random_matrix(int64_t r, int64_t c, uint32_t seed) {
  Tensor t = Tensor::zeros(DType::F32, {r, c});
  uint32_t s = seed;
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    t.ptr<float>()[i] = static_cast<float>(static_cast<int32_t>(s >> 8) % 2001 - 1000) / 4000.0f;
  }
  return t;
}

// expert_ffns (all experts' products in two thread-pool loops) against each expert's SwiGLU
// through linear() and silu_mul one by one; experts without tokens stay undefined.
TEST(MoeExpertFfns, MatchExpertByExpert) {
  const int64_t T = 5, H = 96, I = 160, E = 4;
  Tensor h = random_matrix(T, H, 1);
  std::vector<Weight> w(3 * E);
  for (int64_t i = 0; i < 3 * E; ++i) {
    const bool down = i % 3 == 2;
    w[i].w = random_matrix(down ? H : I, down ? I : H, 10 + static_cast<uint32_t>(i));
  }
  std::vector<ExpertRows> rows(E);
  rows[0].token = {0, 2, 4};
  rows[1].token = {1};
  rows[3].token = {0, 1, 2, 3, 4};  // expert 2 has none
  std::vector<ExpertFfn> ffns;
  for (int64_t e = 0; e < E; ++e) ffns.push_back({&w[3 * e], &w[3 * e + 1], &w[3 * e + 2]});
  const std::vector<Tensor> got = expert_ffns(h, rows, ffns);
  ASSERT_EQ(got.size(), static_cast<size_t>(E));
  EXPECT_FALSE(got[2].defined());
  for (int64_t e : {0, 1, 3}) {
    const Tensor x = gather_rows(h, rows[e].token);
    const Tensor want =
        linear(silu_mul(linear(x, w[3 * e]), linear(x, w[3 * e + 1])), w[3 * e + 2]);
    ASSERT_EQ(got[e].shape, want.shape);
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_NEAR(got[e].ptr<float>()[i], want.ptr<float>()[i],
                  1e-6f + 1e-5f * std::fabs(want.ptr<float>()[i]))
          << "expert " << e << " at " << i;
  }
}

}  // namespace
}  // namespace r1::ops
