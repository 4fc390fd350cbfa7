// The dense models (Qwen2, Llama) against the PyTorch reference goldens of
// tools/reference/make_fixtures.py: teacher-forced log-probabilities, greedy generation through
// the KV cache, and batched decode equal to one-at-a-time decode.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "models/model.h"
#include "ops/ops.h"
#include "runtime/generator.h"
#include "runtime/score.h"

namespace r1::runtime {
namespace {

using nlohmann::json;

const char* kFixtures[] = {"qwen2-f32",          "qwen2-tied-bf16",
                           "qwen2-f16",          "llama-llama3rope-f32",
                           "llama-bf16-sharded", "llama-mlpbias-f32"};

using r1::testing::fixture_dir;
using r1::testing::read_jsonl;

class DenseGolden : public ::testing::TestWithParam<const char*> {};

// The bar: max |logprob - golden| <= 1e-3 on every token of every sequence.
TEST_P(DenseGolden, ScoreMatchesReference) {
  const std::string dir = fixture_dir(GetParam());
  auto model = models::load_model(dir);
  double worst = 0;
  for (const json& row : read_jsonl(dir + "/golden.jsonl")) {
    auto ids = row["ids"].get<std::vector<int32_t>>();
    auto gold = row["logprobs"].get<std::vector<double>>();
    for (int64_t chunk : {256, 7}) {  // one pass, and chunks through the KV cache
      std::vector<double> lp = score_tokens(*model, ids, chunk);
      ASSERT_EQ(lp.size(), gold.size());
      for (size_t j = 0; j < lp.size(); ++j) worst = std::max(worst, std::abs(lp[j] - gold[j]));
    }
  }
  EXPECT_LE(worst, 1e-3) << GetParam();
}

// Greedy decoding through the KV cache reproduces the reference's full-recompute greedy tokens,
// up to the first step where the top two logits are too close to call.
TEST_P(DenseGolden, GreedyGenerationMatchesReference) {
  const std::string dir = fixture_dir(GetParam());
  auto model = models::load_model(dir);
  int compared = 0;
  for (const json& row : read_jsonl(dir + "/golden_top.jsonl")) {
    GenRequest r;
    r.prompt = row["ids"].get<std::vector<int32_t>>();
    r.sampling.temperature = 0;
    r.max_tokens = 16;
    Generator gen(*model, nullptr, {});
    GenOutput out = gen.run({r})[0];
    auto greedy = row["greedy"].get<std::vector<int32_t>>();
    auto margins = row["greedy_margins"].get<std::vector<double>>();
    ASSERT_EQ(out.tokens.size(), 16u);
    for (size_t j = 0; j < greedy.size(); ++j) {
      ASSERT_EQ(out.tokens[j], greedy[j]) << "step " << j;
      ++compared;
      if (margins[j] < 1e-3) break;
    }
  }
  EXPECT_GT(compared, 40);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, DenseGolden, ::testing::ValuesIn(kFixtures));

// Several sequences decoded as one batch give the same tokens as each decoded alone, and the
// same seed gives the same samples.
TEST(DenseBatch, BatchedDecodeEqualsSingle) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  std::vector<GenRequest> reqs(3);
  for (size_t i = 0; i < reqs.size(); ++i) {
    for (size_t t = 0; t < 5 + 7 * i; ++t)
      reqs[i].prompt.push_back(static_cast<int32_t>((t * 37 + i * 11) % 397));
    reqs[i].sampling.temperature = i == 0 ? 0.0f : 1.0f;
    reqs[i].sampling.seed = 42;
    reqs[i].max_tokens = 12;
  }
  Generator batched(*model, nullptr, {});
  auto together = batched.run(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    Generator single(*model, nullptr, {});
    EXPECT_EQ(together[i].tokens, single.run({reqs[i]})[0].tokens) << "request " << i;
  }
  Generator again(*model, nullptr, {});
  auto repeat = again.run(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].tokens, repeat[i].tokens) << "same seed, same tokens";
    EXPECT_EQ(together[i].finish_reason, "length");
  }
  EXPECT_GT(batched.stats().decode_tokens, 0);
}

// The samples of one prompt share its prefill (its cache forked per sample): the same tokens as
// separate requests with the samples' seeds, for one prefill's worth of prompt tokens.
TEST(DenseBatch, SamplesShareOnePrefill) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  GenRequest r;
  for (int t = 0; t < 23; ++t) r.prompt.push_back((t * 29 + 3) % 397);
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 7;
  r.max_tokens = 10;
  r.n = 4;
  Generator shared(*model, nullptr, {});
  auto together = shared.run({r});
  ASSERT_EQ(together.size(), 4u);
  EXPECT_EQ(shared.stats().prefill_tokens, 23);
  std::vector<GenRequest> apart(4, r);
  for (int j = 0; j < 4; ++j) {
    apart[j].n = 1;
    apart[j].sampling.seed = 7 + j;
  }
  Generator separate(*model, nullptr, {});
  auto alone = separate.run(apart);
  EXPECT_EQ(separate.stats().prefill_tokens, 4 * 23);
  int distinct = 0;
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(together[j].tokens, alone[j].tokens) << "sample " << j;
    distinct += j > 0 && together[j].tokens != together[0].tokens;
  }
  EXPECT_GT(distinct, 0) << "the samples differ from each other";
}

// The log-probabilities recorded while sampling are those of the model: against scoring the same
// tokens afterwards (temperature 1), and against the temperature-scaled softmax at 0.5.
TEST(DenseBatch, SamplingLogprobsMatchScoring) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  GenRequest r;
  for (int t = 0; t < 9; ++t) r.prompt.push_back((t * 13 + 5) % 397);
  r.sampling.temperature = 1.0f;
  r.sampling.top_p = 0.9f;  // truncation changes what is drawn, not the recorded log-probs
  r.max_tokens = 12;
  r.logprobs = true;
  r.n = 2;
  Generator gen(*model, nullptr, {});
  for (const GenOutput& o : gen.run({r})) {
    ASSERT_EQ(o.logprobs.size(), o.tokens.size());
    std::vector<int32_t> ids = r.prompt;
    ids.insert(ids.end(), o.tokens.begin(), o.tokens.end());
    const std::vector<double> scored = score_tokens(*model, ids);
    for (size_t k = 0; k < o.tokens.size(); ++k)
      EXPECT_NEAR(o.logprobs[k], scored[r.prompt.size() - 1 + k], 1e-4) << k;
  }
  // At temperature 0.5 the recorded value is log softmax(z / 0.5) of the logits z.
  r.sampling.temperature = 0.5f;
  r.n = 1;
  Generator hot(*model, nullptr, {});
  const GenOutput o = hot.run({r})[0];
  std::vector<int32_t> ids = r.prompt;
  ids.insert(ids.end(), o.tokens.begin(), o.tokens.end());
  models::KvCache cache = model->new_cache();
  models::Batch b;
  const int seq = cache.add_sequence();
  for (size_t t = 0; t < ids.size(); ++t) b.add(ids[t], static_cast<int32_t>(t), seq, true);
  Tensor logits = model->forward(b, cache);  // [T, V]
  const int64_t V = logits.dim(1);
  for (int64_t i = 0; i < logits.numel(); ++i) logits.ptr<float>()[i] *= 2.0f;
  ops::log_softmax_(logits);
  ASSERT_EQ(o.logprobs.size(), o.tokens.size());
  for (size_t k = 0; k < o.tokens.size(); ++k)
    EXPECT_NEAR(o.logprobs[k], logits.ptr<float>()[(r.prompt.size() - 1 + k) * V + o.tokens[k]],
                1e-4)
        << k;
}

TEST(DenseBatch, EosStopsASequence) {
  auto model = models::load_model(fixture_dir("qwen2-f32"));
  auto rows = read_jsonl(fixture_dir("qwen2-f32") + "/golden_top.jsonl");
  GenRequest r;
  r.prompt = rows[2]["ids"].get<std::vector<int32_t>>();
  r.sampling.temperature = 0;
  r.max_tokens = 16;
  int32_t third = rows[2]["greedy"][2].get<int32_t>();
  Generator gen(*model, nullptr, {third});
  GenOutput out = gen.run({r})[0];
  EXPECT_EQ(out.finish_reason, "stop");
  EXPECT_EQ(out.tokens.size(), 2u);  // the end-of-sequence token itself is not returned
}

}  // namespace
}  // namespace r1::runtime

namespace r1::runtime {
namespace {

// The fast bf16 mode (activations rounded to bf16 for bf16 dot products) against the reference
// in the same mode. A different summation order can flip the bf16 rounding of an occasional
// element and move later logprobs by up to ~0.03, so the bar is per sequence: median <= 1e-3,
// max <= 0.1 (tests/fixtures/models/README.md); the exact goldens differ from these by a median
// of 2.7e-3 or more, so the test tells the modes apart.
TEST(DenseFastBf16, MatchesBf16DotReference) {
  for (const char* name : {"qwen2-tied-bf16", "llama-bf16-sharded"}) {
    auto model = models::load_model(fixture_dir(name));
    ops::set_fast_bf16(true);
    for (const json& row : read_jsonl(fixture_dir(name) + "/golden_bf16dot.jsonl")) {
      auto ids = row["ids"].get<std::vector<int32_t>>();
      auto gold = row["logprobs"].get<std::vector<double>>();
      if (gold.empty()) continue;
      std::vector<double> lp = score_tokens(*model, ids), d;
      for (size_t j = 0; j < lp.size(); ++j) d.push_back(std::abs(lp[j] - gold[j]));
      std::sort(d.begin(), d.end());
      EXPECT_LE(d[d.size() / 2], 1e-3) << name;
      EXPECT_LE(d.back(), 0.1) << name;
    }
    ops::set_fast_bf16(false);
  }
}

}  // namespace
}  // namespace r1::runtime
