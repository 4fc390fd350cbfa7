// The sampler against the formulas it implements: exact results for the deterministic parts
// (greedy, penalties, truncation sets) and frequencies for the random draws.
#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

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
  // xoshiro256** seeded by splitmix64(0): the reference algorithm's first outputs (computed
  // independently from Blackman and Vigna's definitions), so draws never change between builds.
  Rng r(0);
  EXPECT_EQ(r.next(), 0x99ec5f36cb75f2b4ull);
  EXPECT_EQ(r.next(), 0xbf6e1f784956452aull);
  EXPECT_EQ(r.next(), 0x1a5f849d4933e6e0ull);
  for (int i = 0; i < 1000; ++i) {
    double u = r.uniform();
    ASSERT_TRUE(u >= 0 && u < 1);
  }
}

// Cutoffs on a vocabulary of real size (Qwen2's 151,936), against a plain reference: sort every
// token, then apply top-k, top-p and min-p to the sorted list in float64.
TEST(Sampler, FullVocabularyCutoffsMatchAFullSort) {
  const int64_t n = 151936;
  std::mt19937_64 gen(42);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(n);
  for (auto& x : logits) x = normal(gen);
  std::vector<int32_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  auto reference = [&](int top_k, double top_p, double min_p) {
    int64_t keep = top_k > 0 && top_k < n ? top_k : n;
    std::vector<double> w(keep);
    double sum = 0;
    for (int64_t i = 0; i < keep; ++i)
      sum += w[i] = std::exp(double(logits[order[i]] - logits[order[0]]));
    if (top_p < 1) {
      double acc = 0;
      int64_t k = 0;
      while (k < keep && (acc += w[k] / sum, ++k, acc < top_p)) {
      }
      keep = k;
    }
    int64_t k = 1;
    while (k < keep && w[k] >= min_p) ++k;
    if (min_p > 0) keep = k;
    double total = 0;
    for (int64_t i = 0; i < keep; ++i) total += w[i];
    std::vector<TokenProb> d;
    for (int64_t i = 0; i < keep; ++i) d.push_back({order[i], w[i] / total});
    return d;
  };
  struct Case {
    int top_k;
    float top_p, min_p;
  };
  for (const Case c :
       {Case{1, 1, 0}, Case{40, 1, 0}, Case{4095, 1, 0}, Case{4096, 1, 0}, Case{4097, 1, 0},
        Case{5000, 1, 0}, Case{100000, 1, 0}, Case{int(n) - 1, 1, 0}, Case{0, 0.95f, 0},
        Case{0, 0.999f, 0}, Case{50000, 0.99f, 0}, Case{0, 1, 0.01f}, Case{0, 0.9f, 0.05f},
        Case{0, 1, 0}}) {
    SamplingParams p = plain(1);
    p.top_k = c.top_k;
    p.top_p = c.top_p;
    p.min_p = c.min_p;
    Sampler s(p);
    std::vector<float> l = logits;
    const std::vector<TokenProb> got = s.distribution(l.data(), n, {}, {});
    const std::vector<TokenProb> want = reference(c.top_k, c.top_p, c.min_p);
    ASSERT_EQ(got.size(), want.size()) << c.top_k << " " << c.top_p << " " << c.min_p;
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].id, want[i].id) << i << " top_k " << c.top_k << " top_p " << c.top_p;
      ASSERT_NEAR(got[i].p, want[i].p, 1e-9 + 1e-6 * want[i].p) << i;
    }
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
