// The sampler against the formulas it implements: exact results for the deterministic parts
// (greedy, penalties, truncation sets) and frequencies for the random draws.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/error.h"

namespace r1::runtime {
namespace {

SamplingParams plain(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_p = 1.0f;
  return p;
}

// Frequencies of each token over n draws from fixed logits.
std::map<int32_t, double> frequencies(const SamplingParams& p, const std::vector<float>& logits,
                                      int n) {
  Sampler s(p);
  std::map<int32_t, double> f;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    f[s.sample(l.data(), static_cast<int64_t>(l.size()), {}, {})] += 1.0 / n;
  }
  return f;
}

// log of probabilities 0.5, 0.3, 0.15, 0.05
const std::vector<float> kLogits = {std::log(0.5f), std::log(0.3f), std::log(0.15f),
                                    std::log(0.05f)};

TEST(Sampler, GreedyIsArgmaxWithTiesToLowestId) {
  Sampler s(plain(0));
  std::vector<float> l = {1, 3, 3, 2};
  EXPECT_EQ(s.sample(l.data(), 4, {}, {}), 1);
}

TEST(Sampler, FullDistributionAtTemperatureOne) {
  auto f = frequencies(plain(1), kLogits, 40000);
  const double p[] = {0.5, 0.3, 0.15, 0.05};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i], p[i], 0.012) << i;  // > 4 standard deviations
}

TEST(Sampler, TemperatureScalesLogits) {
  auto f = frequencies(plain(2), kLogits, 40000);
  double z = 0, q[4];
  for (int i = 0; i < 4; ++i) z += q[i] = std::exp(kLogits[i] / 2);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i], q[i] / z, 0.012) << i;
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingMass) {
  SamplingParams p = plain(1);
  p.top_p = 0.7f;  // 0.5 < 0.7 <= 0.8: tokens 0 and 1, renormalised 5:3
  auto f = frequencies(p, kLogits, 40000);
  EXPECT_EQ(f.count(2) + f.count(3), 0u);
  EXPECT_NEAR(f[0], 0.625, 0.012);
  p.top_p = 0.45f;  // below the first token's mass: only it
  EXPECT_EQ(frequencies(p, kLogits, 2000).size(), 1u);
}

TEST(Sampler, TopKAndMinP) {
  SamplingParams p = plain(1);
  p.top_k = 1;
  EXPECT_EQ(frequencies(p, kLogits, 500).count(0), 1u);
  EXPECT_EQ(frequencies(p, kLogits, 500).size(), 1u);
  p.top_k = 3;
  auto f = frequencies(p, kLogits, 40000);
  EXPECT_EQ(f.count(3), 0u);
  EXPECT_NEAR(f[2], 0.15 / 0.95, 0.012);
  p.top_k = 0;
  p.min_p = 0.35f;  // floor 0.175: keeps 0.5 and 0.3
  f = frequencies(p, kLogits, 40000);
  EXPECT_EQ(f.count(2) + f.count(3), 0u);
  EXPECT_NEAR(f[1], 0.375, 0.012);
}

TEST(Sampler, RepetitionPenaltyAsHuggingFace) {
  SamplingParams p = plain(0);
  p.repetition_penalty = 2.0f;
  Sampler s(p);
  std::vector<float> l = {2, -2, 1, 0.5f};
  // Token 0 seen in the prompt (and twice: penalised once), token 1 in the output.
  int32_t pick = s.sample(l.data(), 4, {0, 0}, {1});
  EXPECT_FLOAT_EQ(l[0], 1.0f);   // positive: divided
  EXPECT_FLOAT_EQ(l[1], -4.0f);  // negative: multiplied
  EXPECT_FLOAT_EQ(l[2], 1.0f);
  EXPECT_EQ(pick, 0);  // tie between 0 and 2 goes to the lower id
}

TEST(Sampler, PresenceAndFrequencyPenaltiesAsOpenAI) {
  SamplingParams p = plain(0);
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p);
  std::vector<float> l = {1, 1, 3, 0};
  int32_t pick = s.sample(l.data(), 4, {3}, {2, 2});
  EXPECT_FLOAT_EQ(l[2], 3 - 0.5f - 2 * 0.25f);
  EXPECT_FLOAT_EQ(l[3], 0);  // prompt tokens are not penalised
  EXPECT_EQ(pick, 2);
}

TEST(Sampler, SameSeedSameDraws) {
  SamplingParams p = plain(1);
  p.seed = 7;
  Sampler a(p), b(p);
  p.seed = 8;
  Sampler c(p);
  int differ = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> l1 = kLogits, l2 = kLogits, l3 = kLogits;
    int32_t x = a.sample(l1.data(), 4, {}, {});
    EXPECT_EQ(x, b.sample(l2.data(), 4, {}, {}));
    differ += x != c.sample(l3.data(), 4, {}, {});
  }
  EXPECT_GT(differ, 20);
}

TEST(Sampler, RngIsFixedAcrossPlatforms) {
  // xoshiro256** seeded by splitmix64(0): a fixed algorithm, so these values never change.
  Rng r(0);
  uint64_t a = r.next(), b = r.next();
  Rng r2(0);
  EXPECT_EQ(a, r2.next());
  EXPECT_EQ(b, r2.next());
  EXPECT_NE(a, b);
  for (int i = 0; i < 1000; ++i) {
    double u = r.uniform();
    ASSERT_TRUE(u >= 0 && u < 1);
  }
}

TEST(Sampler, RejectsBadParameters) {
  auto bad = [](auto set) {
    SamplingParams p;
    set(p);
    EXPECT_THROW(p.validate(), Error);
  };
  bad([](SamplingParams& p) { p.temperature = -1; });
  bad([](SamplingParams& p) { p.top_p = 0; });
  bad([](SamplingParams& p) { p.top_p = 1.5f; });
  bad([](SamplingParams& p) { p.top_k = -2; });
  bad([](SamplingParams& p) { p.min_p = 2; });
  bad([](SamplingParams& p) { p.repetition_penalty = 0; });
  bad([](SamplingParams& p) { p.temperature = NAN; });
  SamplingParams ok;
  EXPECT_NO_THROW(ok.validate());
  EXPECT_FLOAT_EQ(ok.temperature, 0.6f);  // R1's recommendation
  EXPECT_FLOAT_EQ(ok.top_p, 0.95f);
}

}  // namespace
}  // namespace r1::runtime
