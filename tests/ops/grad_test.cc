// Every op with a backward against finite differences (docs/DESIGN.md principle 2).
#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/error.h"
#include "grad_check.h"
#include "ops/ops.h"
#include "ops/tape.h"

namespace r1 {
namespace {

using testing::grad_check;
using testing::random_tensor;

TEST(GradCheck, Linear) {
  Tensor x = random_tensor({5, 7}, 1), w = random_tensor({6, 7}, 2), b = random_tensor({6}, 3);
  grad_check("linear+bias", {x, w, b}, [&] { return ops::linear(x, w, &b); });
  grad_check("linear", {x, w}, [&] { return ops::linear(x, w); });
}

TEST(GradCheck, LinearThroughFrozenBf16Weight) {
  // Only the input is trained; the weight stays bf16 (a frozen stored-dtype matrix).
  Tensor x = random_tensor({4, 9}, 4);
  Tensor wf = random_tensor({5, 9}, 5);
  Tensor w = Tensor::zeros(DType::BF16, {5, 9});
  for (int64_t i = 0; i < wf.numel(); ++i) w.ptr<uint16_t>()[i] = f32_to_bf16(wf.ptr<float>()[i]);
  grad_check("linear bf16", {x}, [&] { return ops::linear(x, w); });
}

TEST(GradCheck, RmsNorm) {
  Tensor x = random_tensor({4, 12}, 6), w = random_tensor({12}, 7);
  grad_check("rms_norm", {x, w}, [&] { return ops::rms_norm(x, w, 1e-5f); });
}

TEST(GradCheck, EmbeddingWithRepeatedIds) {
  Tensor table = random_tensor({10, 6}, 8);
  std::vector<int32_t> ids = {3, 1, 3, 9, 0, 3};
  grad_check("embedding", {table}, [&] { return ops::embedding(table, ids); });
}

TEST(GradCheck, RopeHalfInPlace) {
  Tensor x = random_tensor({3, 16}, 9);
  Tensor cos = Tensor::zeros(DType::F32, {3, 4}), sin = Tensor::zeros(DType::F32, {3, 4});
  for (int64_t i = 0; i < 12; ++i) {
    cos.ptr<float>()[i] = std::cos(0.37f * static_cast<float>(i));
    sin.ptr<float>()[i] = std::sin(0.37f * static_cast<float>(i));
  }
  Tensor w = random_tensor({16, 16}, 10);
  // rope acts in place on a fresh linear output, as in the models.
  grad_check("rope_half", {x, w}, [&] {
    Tensor q = ops::linear(x, w);
    ops::rope_half(q, 2, cos, sin);
    return q;
  });
}

TEST(GradCheck, SiluMulAndAdd) {
  Tensor g = random_tensor({3, 8}, 11, 2.0f), u = random_tensor({3, 8}, 12);
  grad_check("silu_mul", {g, u}, [&] { return ops::silu_mul(g, u); });
  grad_check("add", {g, u}, [&] { return ops::add(g, u); });
  grad_check("add same input twice", {g}, [&] { return ops::add(g, g); });
}

TEST(GradCheck, GatherRows) {
  Tensor x = random_tensor({5, 4}, 13);
  grad_check("gather_rows", {x}, [&] { return ops::gather_rows(x, {4, 0, 4, 2}); });
}

TEST(GradCheck, CausalAttentionPackedGqa) {
  // Two packed sequences (lengths 4 and 3), 4 query heads over 2 kv heads, qk dim 6, v dim 5.
  const std::vector<int32_t> pos = {0, 1, 2, 3, 0, 1, 2};
  const auto start = ops::sequence_starts(pos);
  Tensor q = random_tensor({7, 24}, 14), k = random_tensor({7, 12}, 15),
         v = random_tensor({7, 10}, 16);
  grad_check("causal_attention", {q, k, v},
             [&] { return ops::causal_attention(q, k, v, 4, 2, 6, 5, start, 0.4f); });
}

TEST(CausalAttention, MatchesCachedAttention) {
  // The training op and the inference op (over a cache) compute the same function.
  const std::vector<int32_t> pos = {0, 1, 2, 3, 4};
  Tensor q = random_tensor({5, 8}, 17), k = random_tensor({5, 4}, 18),
         v = random_tensor({5, 4}, 19);
  Tensor a = ops::causal_attention(q, k, v, 2, 1, 4, 4, ops::sequence_starts(pos), 0.5f);
  // The cache's rows in blocks of 2 positions.
  const float* kb[3] = {k.ptr<float>(), k.ptr<float>() + 8, k.ptr<float>() + 16};
  const float* vb[3] = {v.ptr<float>(), v.ptr<float>() + 8, v.ptr<float>() + 16};
  std::vector<ops::KvSpan> spans(5, ops::KvSpan{{kb, 0, 4, 2}, {vb, 0, 4, 2}});
  Tensor b = ops::attention(q, 2, 1, 4, spans, pos, 0.5f);
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.ptr<float>()[i], b.ptr<float>()[i], 1e-5);
}

TEST(CausalAttention, MatchesCachedAttentionInPromptTiles) {
  // Prompts as prefill runs them: two sequences of 40 and 9 tokens in one batch, 12 query heads
  // over 2 kv heads. ops::attention takes each sequence's consecutive tokens in tiles (32 + 8,
  // and 9), whose heads go through the kernels as one block of rows (GEMM-shaped on AVX-512),
  // each token stopping at its own position; the tiles must not cross into the other sequence.
  const int64_t H = 12, kv = 2, D = 16;
  std::vector<int32_t> pos;
  for (int32_t p = 0; p < 40; ++p) pos.push_back(p);
  for (int32_t p = 0; p < 9; ++p) pos.push_back(p);
  const int64_t T = static_cast<int64_t>(pos.size());
  Tensor q = random_tensor({T, H * D}, 22), k = random_tensor({T, kv * D}, 23),
         v = random_tensor({T, kv * D}, 24);
  Tensor a = ops::causal_attention(q, k, v, H, kv, D, D, ops::sequence_starts(pos), 0.25f);
  // Each sequence's rows in blocks of 4 positions.
  std::vector<const float*> kb, vb;
  for (int64_t r = 0; r < T; r += 4) {
    if (r < 40 && r + 4 > 40) r = 40;  // sequence B starts a block of its own
    kb.push_back(k.ptr<float>() + r * kv * D);
    vb.push_back(v.ptr<float>() + r * kv * D);
  }
  const ops::RowBlocks ka{kb.data(), 0, kv * D, 4}, va{vb.data(), 0, kv * D, 4};
  const ops::RowBlocks kb2{kb.data() + 10, 0, kv * D, 4}, vb2{vb.data() + 10, 0, kv * D, 4};
  std::vector<ops::KvSpan> spans(40, ops::KvSpan{ka, va});
  spans.resize(T, ops::KvSpan{kb2, vb2});
  Tensor b = ops::attention(q, H, kv, D, spans, pos, 0.25f);
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_NEAR(a.ptr<float>()[i], b.ptr<float>()[i], 1e-5) << i / (H * D) << " " << i % (H * D);
  // Consecutive positions of different sequences (a decode batch: A at 39, C at 40 over other
  // rows) are not one tile: each token as if alone.
  Tensor kc = random_tensor({44, kv * D}, 25), vc = random_tensor({44, kv * D}, 26);
  std::vector<const float*> kcb, vcb;
  for (int64_t r = 0; r < 44; r += 4) {
    kcb.push_back(kc.ptr<float>() + r * kv * D);
    vcb.push_back(vc.ptr<float>() + r * kv * D);
  }
  const ops::KvSpan c{{kcb.data(), 0, kv * D, 4}, {vcb.data(), 0, kv * D, 4}};
  Tensor q2 = random_tensor({2, H * D}, 27);
  Tensor both = ops::attention(q2, H, kv, D, {spans[0], c}, {39, 40}, 0.25f);
  for (int64_t t = 0; t < 2; ++t) {
    Tensor qt = Tensor::empty(DType::F32, {1, H * D});
    std::memcpy(qt.ptr<float>(), q2.ptr<float>() + t * H * D, H * D * sizeof(float));
    Tensor one = ops::attention(qt, H, kv, D, {t == 0 ? spans[0] : c}, {t == 0 ? 39 : 40}, 0.25f);
    for (int64_t i = 0; i < H * D; ++i)
      ASSERT_NEAR(both.ptr<float>()[t * H * D + i], one.ptr<float>()[i], 1e-6) << t << " " << i;
  }
}

TEST(CausalAttention, PromptTiles) {
  std::vector<int32_t> pos;
  for (int32_t p = 0; p < 40; ++p) pos.push_back(p);
  auto one_sequence = [](int64_t, int64_t) { return true; };
  using Tiles = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(ops::prompt_tiles(pos, 32, 6, one_sequence), (Tiles{{0, 32}, {32, 40}}));
  // Scores within budget (2^22 per tile: tokens x rows per token x the last token's positions):
  // 6 tokens x 1e5 x 6 positions fits, 7 x 1e5 x 7 does not; then 4 x 1e5 x 10.
  const Tiles wide = ops::prompt_tiles(pos, 32, 100000, one_sequence);
  ASSERT_GE(wide.size(), 3u);
  EXPECT_EQ(wide[0], (std::pair<int64_t, int64_t>{0, 6}));
  EXPECT_EQ(wide[1], (std::pair<int64_t, int64_t>{6, 10}));
  EXPECT_EQ(wide.back().second, 40);
  for (size_t i = 1; i < wide.size(); ++i) EXPECT_EQ(wide[i].first, wide[i - 1].second);
  // Not consecutive, or another sequence: tiles of one.
  EXPECT_EQ(ops::prompt_tiles({5, 9, 10}, 32, 6, one_sequence), (Tiles{{0, 1}, {1, 3}}));
  EXPECT_EQ(ops::prompt_tiles({5, 6}, 32, 6, [](int64_t, int64_t) { return false; }),
            (Tiles{{0, 1}, {1, 2}}));
}

TEST(CausalAttention, PositionsMustBePacked) {
  EXPECT_THROW(ops::sequence_starts({0, 2}), Error);
  EXPECT_THROW(ops::sequence_starts({1}), Error);
  EXPECT_EQ(ops::sequence_starts({0, 1, 0, 1, 2}), (std::vector<int32_t>{0, 0, 2, 2, 2}));
}

TEST(GradCheck, CrossEntropyWithIgnoredTargets) {
  Tensor h = random_tensor({5, 6}, 20), w = random_tensor({11, 6}, 21);
  const std::vector<int32_t> targets = {3, -1, 10, 0, 3};
  grad_check("cross_entropy", {h, w}, [&] { return ops::cross_entropy(h, w, targets, 0.25f); });
}

TEST(GradCheck, AddScaled) {
  Tensor a = random_tensor({3, 5}, 40), b = random_tensor({3, 5}, 41);
  grad_check("add_scaled", {a, b}, [&] { return ops::add_scaled(a, b, -0.75f); });
}

TEST(GradCheck, TokenLogprobs) {
  // Per-token log-probabilities at a temperature; the checked scalar is a random projection of
  // the [T] output (grad_check), so every token's gradient is exercised, masked ones included.
  Tensor h = random_tensor({5, 6}, 30), w = random_tensor({11, 6}, 31);
  const std::vector<int32_t> targets = {2, -1, 10, 0, 7};
  grad_check("token_logprobs", {h, w}, [&] { return ops::token_logprobs(h, w, targets, 0.7f); });
}

TEST(TokenLogprobs, EqualsLogSoftmaxAndEntropyOfScaledLogits) {
  Tensor h = random_tensor({3, 4}, 32), w = random_tensor({7, 4}, 33);
  const std::vector<int32_t> targets = {6, -1, 0};
  std::vector<float> entropy;
  Tensor lp = ops::token_logprobs(h, w, targets, 0.5f, &entropy);
  Tensor logits = ops::linear(h, w);
  for (int64_t i = 0; i < logits.numel(); ++i) logits.ptr<float>()[i] /= 0.5f;
  ops::log_softmax_(logits);
  for (int t = 0; t < 3; ++t) {
    if (targets[t] < 0) {
      EXPECT_EQ(lp.ptr<float>()[t], 0.0f);
      EXPECT_EQ(entropy[t], 0.0f);
      continue;
    }
    EXPECT_NEAR(lp.ptr<float>()[t], logits.ptr<float>()[t * 7 + targets[t]], 1e-5);
    double ent = 0;
    for (int c = 0; c < 7; ++c) {
      const double l = logits.ptr<float>()[t * 7 + c];
      ent -= std::exp(l) * l;
    }
    EXPECT_NEAR(entropy[t], ent, 1e-5);
  }
}

TEST(CrossEntropy, EqualsLogSoftmaxOfLogits) {
  Tensor h = random_tensor({4, 6}, 22), w = random_tensor({9, 6}, 23);
  const std::vector<int32_t> targets = {1, 8, -1, 0};
  std::vector<float> lp;
  Tensor loss = ops::cross_entropy(h, w, targets, 0.5f, &lp);
  Tensor logits = ops::linear(h, w);
  ops::log_softmax_(logits);
  double want = 0;
  for (int t = 0; t < 4; ++t) {
    if (targets[t] < 0) {
      EXPECT_EQ(lp[t], 0.0f);
      continue;
    }
    const float ref = logits.ptr<float>()[t * 9 + targets[t]];
    EXPECT_NEAR(lp[t], ref, 1e-5);
    want -= ref;
  }
  EXPECT_NEAR(loss.ptr<float>()[0], 0.5 * want, 1e-5);
}

TEST(Tape, InPlaceOpsRefuseTrackedInputs) {
  Tensor a = random_tensor({2, 3}, 24), b = random_tensor({2, 3}, 25);
  ops::Tape tape;
  tape.watch(a);
  ops::TapeScope scope(tape);
  EXPECT_THROW(ops::add_(a, b), Error);
  EXPECT_THROW(ops::silu_mul_(b, a), Error);
  ops::add_(b, b);  // untracked: fine
}

TEST(Tape, GradientsAccumulateIntoGivenBuffers) {
  // Two backward passes into the same leaf buffer add up (gradient accumulation).
  Tensor x = random_tensor({3, 4}, 26), w = random_tensor({2, 4}, 27);
  Tensor gw = Tensor::zeros(DType::F32, {2, 4});
  ops::Tape tape;
  tape.watch(w, gw);
  std::vector<float> once;
  for (int pass = 0; pass < 2; ++pass) {
    ops::TapeScope scope(tape);
    Tensor loss = ops::cross_entropy(x, w, {0, 1, 1}, 1.0f);
    tape.backward(loss);
    if (pass == 0) once.assign(gw.ptr<float>(), gw.ptr<float>() + 8);
  }
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(gw.ptr<float>()[i], 2 * once[i], 1e-6);
  EXPECT_EQ(tape.size(), 0u);
}

}  // namespace
}  // namespace r1

namespace r1 {
namespace {

TEST(CrossEntropy, ChunkedOverALargeVocabularyMatchesTheFullSoftmax) {
  // V = 2^20: a chunk holds 4 rows of logits, so 10 rows take 3 chunks.
  const int64_t T = 10, H = 4, V = int64_t{1} << 20;
  Tensor h = testing::random_tensor({T, H}, 40), w = testing::random_tensor({V, H}, 41, 0.5f);
  std::vector<int32_t> targets = {5, -1, 1048575, 0, 77, 77, -1, 3, 999999, 12};
  ops::Tape tape;
  tape.watch(h);
  Tensor loss;
  {
    ops::TapeScope scope(tape);
    loss = ops::cross_entropy(h, w, targets, 0.1f);
    tape.backward(loss);
  }
  Tensor logits = ops::linear(h, w);
  double want = 0;
  std::vector<double> dh(T * H, 0.0);
  for (int64_t t = 0; t < T; ++t) {
    if (targets[t] < 0) continue;
    const float* z = logits.ptr<float>() + t * V;
    double m = z[0], s = 0;
    for (int64_t c = 1; c < V; ++c) m = std::max(m, static_cast<double>(z[c]));
    for (int64_t c = 0; c < V; ++c) s += std::exp(z[c] - m);
    want -= z[targets[t]] - m - std::log(s);
    for (int64_t c = 0; c < V; ++c) {
      const double p = std::exp(z[c] - m) / s - (c == targets[t] ? 1.0 : 0.0);
      for (int64_t k = 0; k < H; ++k) dh[t * H + k] += 0.1 * p * w.ptr<float>()[c * H + k];
    }
  }
  EXPECT_NEAR(loss.ptr<float>()[0], 0.1 * want, 1e-4 * std::fabs(want));
  const Tensor* g = tape.find_grad(h);
  ASSERT_NE(g, nullptr);
  for (int64_t i = 0; i < T * H; ++i) EXPECT_NEAR(g->ptr<float>()[i], dh[i], 1e-4);
}

}  // namespace
}  // namespace r1
