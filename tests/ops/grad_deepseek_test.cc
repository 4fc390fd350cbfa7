// DeepSeek-V3's training ops (MLA pieces, MoE routing weights and combine) against finite
// differences (docs/DESIGN.md principle 2), and their forwards against the inference code.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "grad_check.h"
#include "ops/mla.h"
#include "ops/moe.h"
#include "ops/ops.h"
#include "ops/tape.h"

namespace r1 {
namespace {

using testing::grad_check;
using testing::random_tensor;

void rope_tables(int64_t T, int64_t half, Tensor* cos, Tensor* sin) {
  *cos = Tensor::zeros(DType::F32, {T, half});
  *sin = Tensor::zeros(DType::F32, {T, half});
  for (int64_t i = 0; i < T * half; ++i) {
    cos->ptr<float>()[i] = 1.1f * std::cos(0.41f * static_cast<float>(i));  // yarn-style gain
    sin->ptr<float>()[i] = 1.1f * std::sin(0.41f * static_cast<float>(i));
  }
}

TEST(GradCheckDeepseek, RopeInterleavedInPlaceOnHeadColumns) {
  // q of 3 heads of width 6: the rotary part is the last 4 columns of each head (offset 2).
  Tensor x = random_tensor({4, 5}, 1), w = random_tensor({18, 5}, 2);
  Tensor cos, sin;
  rope_tables(4, 2, &cos, &sin);
  grad_check("rope_interleaved q", {x, w}, [&] {
    Tensor q = ops::linear(x, w);
    ops::rope_interleaved(q, 3, 6, 2, cos, sin);
    return q;
  });
  // One shared head, all columns (k_pe).
  Tensor w1 = random_tensor({4, 5}, 3);
  grad_check("rope_interleaved k_pe", {x, w1}, [&] {
    Tensor k = ops::linear(x, w1);
    ops::rope_interleaved(k, 1, 4, 0, cos, sin);
    return k;
  });
}

TEST(GradCheckDeepseek, RopeInterleavedUntrackedMatchesTracked) {
  Tensor x = random_tensor({3, 8}, 4), y = random_tensor({3, 8}, 4);
  Tensor cos, sin;
  rope_tables(3, 2, &cos, &sin);
  ops::rope_interleaved(x, 2, 4, 0, cos, sin);
  ops::Tape tape;
  tape.watch(y);
  ops::TapeScope scope(tape);
  ops::rope_interleaved(y, 2, 4, 0, cos, sin);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(x.ptr<float>()[i], y.ptr<float>()[i]);
}

TEST(GradCheckDeepseek, ColumnsAndConcat) {
  Tensor x = random_tensor({3, 12}, 5);
  grad_check("columns", {x}, [&] { return ops::columns(x, 3, 5); });
  grad_check("head_columns", {x}, [&] { return ops::head_columns(x, 3, 1, 2); });
  Tensor a = random_tensor({3, 6}, 6), b = random_tensor({3, 9}, 7), s = random_tensor({3, 3}, 8);
  grad_check("concat_columns", {a, b}, [&] { return ops::concat_columns(a, b); });
  grad_check("concat_heads", {a, b}, [&] { return ops::concat_heads(a, b, 3); });
  // A shared b whose width divides by the head count: the flag, not the shape, decides.
  grad_check("concat_heads shared", {a, s}, [&] { return ops::concat_heads(a, s, 3, true); });
  Tensor y = ops::concat_heads(a, s, 3, true);
  for (int64_t t = 0; t < 3; ++t)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t i = 0; i < 5; ++i)
        EXPECT_EQ(y.ptr<float>()[t * 15 + h * 5 + i],
                  i < 2 ? a.ptr<float>()[t * 6 + h * 2 + i] : s.ptr<float>()[t * 3 + i - 2]);
}

TEST(GradCheckDeepseek, MlaKeysAndValuesFromTheLatent) {
  // The model's naive full-sequence MLA: k = [k_nope_h, rope(k_pe)], v_h from kv_b(c).
  const int64_t T = 5, nh = 2, nope = 3, rope = 2, vd = 4, lora = 6;
  const std::vector<int32_t> pos = {0, 1, 2, 0, 1};
  Tensor q = random_tensor({T, nh * (nope + rope)}, 9), kv = random_tensor({T, lora + rope}, 10);
  Tensor kv_b = random_tensor({nh * (nope + vd), lora}, 11, 0.5f);
  Tensor cos, sin;
  rope_tables(T, 1, &cos, &sin);
  grad_check("mla naive", {q, kv, kv_b}, [&] {
    Tensor c = ops::columns(kv, 0, lora);
    Tensor k_pe = ops::columns(kv, lora, rope);
    ops::rope_interleaved(k_pe, 1, rope, 0, cos, sin);
    Tensor e = ops::linear(c, kv_b);
    Tensor k = ops::concat_heads(ops::head_columns(e, nh, 0, nope), k_pe, nh, true);
    Tensor v = ops::head_columns(e, nh, nope, vd);
    return ops::causal_attention(q, k, v, nh, nh, nope + rope, vd, ops::sequence_starts(pos), 0.3f);
  });
}

ops::MoeRouting routing(bool norm) {
  ops::MoeRouting r;
  r.n_group = 2;
  r.topk_group = 1;
  r.top_k = 3;
  r.norm_topk_prob = norm;
  r.routed_scaling_factor = 2.5f;
  return r;
}

TEST(GradCheckDeepseek, ExpertWeights) {
  Tensor logits = random_tensor({4, 8}, 12, 1.5f), bias = random_tensor({8}, 13, 0.3f);
  for (bool norm : {true, false}) {
    const auto r = routing(norm);
    const auto choice = ops::route_experts(logits, bias, r);  // fixed: selection has no gradient
    Tensor w = ops::expert_weights(logits, choice, r);
    for (int64_t t = 0; t < 4; ++t)
      for (int64_t k = 0; k < 3; ++k)
        EXPECT_EQ(w.ptr<float>()[t * 3 + k], choice[t][k].weight) << t << " " << k;
    grad_check(norm ? "expert_weights norm" : "expert_weights", {logits},
               [&] { return ops::expert_weights(logits, choice, r); });
  }
}

TEST(GradCheckDeepseek, MoeCombine) {
  const int64_t T = 4, H = 5;
  Tensor logits = random_tensor({T, 8}, 14, 1.5f);
  const auto r = routing(true);
  const auto choice = ops::route_experts(logits, Tensor(), r);
  const auto rows = ops::expert_rows(choice, 8);
  Tensor base = random_tensor({T, H}, 15), weights = random_tensor({T, 3}, 16);
  std::vector<Tensor> outs(8);
  std::vector<Tensor> inputs = {base, weights};
  int used = 0;
  for (int e = 0; e < 8; ++e) {
    if (rows[e].token.empty()) continue;
    outs[e] = random_tensor({static_cast<int64_t>(rows[e].token.size()), H}, 20 + e);
    inputs.push_back(outs[e]);
    ++used;
  }
  ASSERT_GE(used, 3);
  grad_check("moe_combine", inputs, [&] { return ops::moe_combine(base, outs, rows, weights); });
  // The forward: base plus each token's weighted expert rows.
  Tensor y = ops::moe_combine(base, outs, rows, weights);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < H; ++c) {
      double want = base.ptr<float>()[t * H + c];
      for (int e = 0; e < 8; ++e)
        for (size_t i = 0; i < rows[e].token.size(); ++i)
          if (rows[e].token[i] == t)
            want += weights.ptr<float>()[rows[e].slot[i]] * outs[e].ptr<float>()[i * H + c];
      EXPECT_NEAR(y.ptr<float>()[t * H + c], want, 1e-5);
    }
}

TEST(GradCheckDeepseek, RoutedFfnEndToEnd) {
  // Router logits -> weights (through the logits) -> combine of experts run on gathered rows.
  const int64_t T = 6, H = 4, E = 8;
  Tensor x = random_tensor({T, H}, 30), gate = random_tensor({E, H}, 31);
  std::vector<Tensor> ew;
  for (int e = 0; e < E; ++e) ew.push_back(random_tensor({H, H}, 40 + e, 0.5f));
  const auto r = routing(true);
  std::vector<std::vector<ops::ExpertChoice>> choice;
  {
    Tensor logits = ops::linear(x, gate);
    choice = ops::route_experts(logits, Tensor(), r);  // fixed across the perturbations
  }
  std::vector<Tensor> inputs = {x, gate};  // and the experts some token chose
  const auto chosen = ops::expert_rows(choice, E);
  for (int e = 0; e < E; ++e)
    if (!chosen[e].token.empty()) inputs.push_back(ew[e]);
  grad_check("routed ffn", inputs, [&] {
    Tensor logits = ops::linear(x, gate);
    Tensor w = ops::expert_weights(logits, choice, r);
    const auto rows = ops::expert_rows(choice, E);
    std::vector<Tensor> outs(E);
    for (int e = 0; e < E; ++e)
      if (!rows[e].token.empty()) outs[e] = ops::linear(ops::gather_rows(x, rows[e].token), ew[e]);
    return ops::moe_combine(Tensor::zeros(DType::F32, {T, H}), outs, rows, w);
  });
}

TEST(GradCheckDeepseek, CachedMlaRefusesTrackedQueries) {
  Tensor q = random_tensor({1, 10}, 50);
  ops::Weight kv_b;
  kv_b.w = random_tensor({14, 6}, 51);
  std::vector<float> rows(8, 0.0f);
  ops::Tape tape;
  tape.watch(q);
  ops::TapeScope scope(tape);
  const ops::MlaShape s{2, 3, 2, 4, 6, 0.3f};
  const float* blocks[1] = {rows.data()};
  const std::vector<ops::LatentSpan> spans = {{{blocks, 0, 8, 1}}};
  EXPECT_THROW(ops::mla_absorbed(q, kv_b, s, spans, {0}), Error);
  EXPECT_THROW(ops::mla_naive(q, kv_b, s, spans, {0}), Error);
}

}  // namespace
}  // namespace r1
