// MTP speculative decoding keeps the model's output: greedy tokens identical to plain decoding,
// and sampled tokens drawn from the same distribution (a two-sample test over many seeds).
#include "runtime/generator.h"
#include "runtime/speculative.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace r1::runtime {
namespace {

std::unique_ptr<models::Model> load(const std::string& name) {
  return models::load_model(std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/" + name);
}

int32_t verifier_draw(Sampler& s, const std::vector<TokenProb>& p, const std::vector<TokenProb>& q,
                      int32_t d, bool* acc) {
  return verify_draft(p, q, d, s, acc);
}

class SpeculativeGreedy : public ::testing::TestWithParam<const char*> {};

TEST_P(SpeculativeGreedy, IdenticalToPlainDecoding) {
  auto model = load(GetParam());
  auto* ds = dynamic_cast<models::DeepseekV3Model*>(model.get());
  ASSERT_TRUE(ds && ds->has_mtp());
  SpeculativeStats stats;
  for (int p = 0; p < 4; ++p) {
    GenRequest r;
    for (int t = 0; t < 3 + 5 * p; ++t) r.prompt.push_back((t * 31 + p * 7 + 2) % 150);
    r.sampling.temperature = 0;
    r.max_tokens = 24;
    Generator plain(*model, nullptr, {});
    GenOutput want = plain.run({r})[0];
    GenOutput got = generate_mtp_speculative(*ds, nullptr, {}, r, &stats);
    EXPECT_EQ(got.tokens, want.tokens) << "prompt " << p;
    EXPECT_EQ(got.finish_reason, "length");
  }
  EXPECT_GT(stats.drafted, 0);
  EXPECT_LT(stats.steps, 4 * 24);  // accepted drafts saved forward passes
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SpeculativeGreedy, ::testing::Values("dsv3-bf16", "dsv3-fp8"));

// Two-sample check: the tokens at output positions 1 and 2 (the first ones a draft decides)
// over many seeds, with and without speculation, have the same distribution. Total variation
// distance of the empirical histograms must stay within sampling noise.
TEST(SpeculativeSampling, SameDistributionAsPlainDecoding) {
  auto model = load("dsv3-bf16");
  auto* ds = dynamic_cast<models::DeepseekV3Model*>(model.get());
  GenRequest r;
  r.prompt = {5, 17, 99, 42, 7};
  r.sampling.temperature = 1.0f;
  r.sampling.top_p = 1.0f;
  r.sampling.top_k = 3;
  r.max_tokens = 3;
  const int kRuns = 1500;
  std::map<std::pair<int32_t, int32_t>, double> plain_h, spec_h;
  SpeculativeStats stats;
  Generator plain(*model, nullptr, {});
  for (int s = 0; s < kRuns; ++s) {
    r.sampling.seed = 1000 + s;
    GenOutput a = plain.run({r})[0];
    r.sampling.seed = 900000 + s;  // independent draws
    GenOutput b = generate_mtp_speculative(*ds, nullptr, {}, r, &stats);
    ASSERT_EQ(a.tokens.size(), 3u);
    ASSERT_EQ(b.tokens.size(), 3u);
    plain_h[{a.tokens[1], a.tokens[2]}] += 1.0 / kRuns;
    spec_h[{b.tokens[1], b.tokens[2]}] += 1.0 / kRuns;
  }
  double tv = 0;
  std::map<std::pair<int32_t, int32_t>, int> keys;
  for (auto& [k, v] : plain_h) keys[k] = 1;
  for (auto& [k, v] : spec_h) keys[k] = 1;
  for (auto& [k, unused] : keys) tv += std::abs(plain_h[k] - spec_h[k]) / 2;
  // Up to 9 outcomes: the TV of two independent samples of 1500 is about 0.03-0.05; a draft
  // distribution leaking into the output (accepting every draft) moves it far more.
  EXPECT_LT(tv, 0.08) << "outcomes " << keys.size();
  // (The fixture's MTP head is random, so its drafts are mostly rejected: this checks the
  // rejection path end to end; VerifyDraft below checks acceptance exactly.)
  EXPECT_GT(stats.drafted, 0);
}

// The verification step alone, on distributions that overlap: its output is distributed as p,
// and drafts are accepted with probability sum_x min(p(x), q(x)).
TEST(SpeculativeSampling, VerifyDraftKeepsTheTargetDistribution) {
  const std::vector<TokenProb> p = {{0, 0.5}, {1, 0.3}, {2, 0.2}};
  const std::vector<TokenProb> q = {{1, 0.6}, {0, 0.2}, {3, 0.2}};
  SamplingParams sp;
  sp.seed = 3;
  Sampler draft(sp), verifier(SamplingParams{});
  const int kRuns = 60000;
  std::map<int32_t, double> freq;
  int accepted = 0;
  for (int i = 0; i < kRuns; ++i) {
    int32_t d = draft.draw(q);
    bool acc = false;
    freq[verifier_draw(verifier, p, q, d, &acc)] += 1.0 / kRuns;
    accepted += acc;
  }
  EXPECT_NEAR(freq[0], 0.5, 0.01);
  EXPECT_NEAR(freq[1], 0.3, 0.01);
  EXPECT_NEAR(freq[2], 0.2, 0.01);
  EXPECT_EQ(freq.count(3), 0u);
  EXPECT_NEAR(accepted / static_cast<double>(kRuns), 0.2 + 0.3 + 0.0, 0.01);  // sum of min(p, q)
}

}  // namespace
}  // namespace r1::runtime
