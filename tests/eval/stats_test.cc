// Statistics against values derived by hand from the formulas in docs/FACTS.md section 7.
#include "eval/stats.h"

#include "eval/report.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace r1::eval {
namespace {

TEST(Stats, PassAt1IsMeanCorrectness) {
  EXPECT_DOUBLE_EQ(pass_at_1({true, false, true, true}), 0.75);
  EXPECT_DOUBLE_EQ(pass_at_1({false, false}), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_1({}), 0.0);
}

TEST(Stats, PassAtKSmallCasesByHand) {
  // n=5, c=2: pass@1 = 1 - C(3,1)/C(5,1) = 2/5; pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10;
  // pass@3 = 1 - C(3,3)/C(5,3) = 1 - 1/10; pass@4: n-c = 3 < 4, so 1.
  EXPECT_NEAR(pass_at_k(5, 2, 1), 0.4, 1e-15);
  EXPECT_NEAR(pass_at_k(5, 2, 2), 0.7, 1e-15);
  EXPECT_NEAR(pass_at_k(5, 2, 3), 0.9, 1e-15);
  EXPECT_DOUBLE_EQ(pass_at_k(5, 2, 4), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(10, 0, 3), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(10, 10, 1), 1.0);
  // n=64, c=1, k=8: C(63,8)/C(64,8) = 56/64, so pass@8 = 8/64.
  EXPECT_NEAR(pass_at_k(64, 1, 8), 0.125, 1e-15);
  // n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6.
  EXPECT_NEAR(pass_at_k(4, 1, 2), 0.5, 1e-15);
}

TEST(Stats, PassAtKWithOneSampleIsPassAt1) {
  for (size_t n = 1; n <= 20; ++n)
    for (size_t c = 0; c <= n; ++c)
      EXPECT_NEAR(pass_at_k(n, c, 1), static_cast<double>(c) / n, 1e-14) << n << " " << c;
}

TEST(Stats, PassAtKStableForLargeN) {
  // Against log-binomials: C(n-c,k)/C(n,k) via lgamma, where the direct binomials overflow.
  size_t n = 1000, c = 10, k = 100;
  auto lbinom = [](double a, double b) {
    return std::lgamma(a + 1) - std::lgamma(b + 1) - std::lgamma(a - b + 1);
  };
  double want = 1 - std::exp(lbinom(n - c, k) - lbinom(n, k));
  EXPECT_NEAR(pass_at_k(n, c, k), want, 1e-9);
  EXPECT_GT(want, 0.6);
  EXPECT_LT(want, 0.7);
}

TEST(Stats, PassAtKRejectsBadArguments) {
  EXPECT_THROW(pass_at_k(5, 6, 1), r1::Error);
  EXPECT_THROW(pass_at_k(5, 2, 0), r1::Error);
  EXPECT_THROW(pass_at_k(5, 2, 6), r1::Error);
}

TEST(Stats, ConsensusMajorityAndTieRule) {
  // b wins 2 to 1
  EXPECT_TRUE(consensus_correct({{"a", false}, {"b", true}, {"b", true}}));
  // a and b tie 2-2: a was seen first and wins
  EXPECT_FALSE(consensus_correct({{"a", false}, {"b", true}, {"b", true}, {"a", false}}));
  EXPECT_TRUE(consensus_correct({{"b", true}, {"a", false}, {"b", true}, {"a", false}}));
  // missing answers do not vote, even when they are the most common
  EXPECT_TRUE(consensus_correct({{"", false}, {"", false}, {"", false}, {"7", true}}));
  EXPECT_FALSE(consensus_correct({{"", false}}));
  EXPECT_FALSE(consensus_correct({}));
}

TEST(Stats, ConsensusUsesTheEquivalence) {
  std::vector<VoteSample> s = {
      {"1/2", true}, {"3", false}, {"0.5", true}, {"3", false}, {"\\frac12", true}};
  EXPECT_FALSE(consensus_correct(s));  // by strings "3" wins 2 to 1
  auto same = [](std::string_view a, std::string_view b) {
    auto half = [](std::string_view x) { return x == "1/2" || x == "0.5" || x == "\\frac12"; };
    return a == b || (half(a) && half(b));
  };
  EXPECT_TRUE(consensus_correct(s, same));  // the halves win 3 to 2
}

TEST(Stats, LengthStats) {
  auto s = length_stats({100, 200, 300, 400}, {false, true, false, true});
  EXPECT_DOUBLE_EQ(s.mean_tokens, 250.0);
  EXPECT_DOUBLE_EQ(s.truncation_rate, 0.5);
  auto empty = length_stats({}, {});
  EXPECT_DOUBLE_EQ(empty.mean_tokens, 0.0);
}

}  // namespace
}  // namespace r1::eval

namespace r1::eval {
namespace {

TEST(Stats, SummarizeByHand) {
  // problem 1: 4 samples, answers 5,5,7,5 with 5 correct -> pass@1 3/4, pass@2 = 1 (n-c = 1 < 2),
  //            cons: 5 wins -> 1.
  // problem 2: 4 samples, answers 1,2,2,"" with only "1" correct -> pass@1 1/4,
  //            pass@2 = 1 - C(3,2)/C(4,2) = 1/2, cons: 2 wins -> 0.
  std::vector<std::vector<GradedSample>> runs = {{{true, "5", 100, false},
                                                  {true, "5", 200, false},
                                                  {false, "7", 300, true},
                                                  {true, "5", 400, false}},
                                                 {{true, "1", 10, false},
                                                  {false, "2", 20, false},
                                                  {false, "2", 30, false},
                                                  {false, "", 40, true}}};
  auto s = summarize(runs, {1, 2, 8});
  EXPECT_EQ(s.problems, 2u);
  EXPECT_EQ(s.samples, 8u);
  EXPECT_DOUBLE_EQ(s.pass_at_1, (0.75 + 0.25) / 2);
  ASSERT_EQ(s.pass_at_k.size(), 2u);  // k = 8 exceeds the 4 samples
  EXPECT_EQ(s.pass_at_k[0].first, 1u);
  EXPECT_DOUBLE_EQ(s.pass_at_k[0].second, 0.5);
  EXPECT_EQ(s.pass_at_k[1].first, 2u);
  EXPECT_DOUBLE_EQ(s.pass_at_k[1].second, (1.0 + 0.5) / 2);
  EXPECT_EQ(s.cons_k, 4u);
  EXPECT_DOUBLE_EQ(s.cons_at_k, 0.5);
  EXPECT_DOUBLE_EQ(s.lengths.mean_tokens, 1100.0 / 8);
  EXPECT_DOUBLE_EQ(s.lengths.truncation_rate, 0.25);
}

}  // namespace
}  // namespace r1::eval

namespace r1::eval {
namespace {

TEST(Report, JsonAndMarkdown) {
  EvalSummary s;
  s.problems = 30;
  s.samples = 1920;
  s.pass_at_1 = 0.289;
  s.pass_at_k = {{1, 0.289}, {8, 0.5}};
  s.cons_k = 64;
  s.cons_at_k = 0.527;
  s.lengths = {12345.4, 0.0625};
  auto j = summary_json("aime", s);
  EXPECT_EQ(j["task"], "aime");
  EXPECT_EQ(j["problems"], 30);
  EXPECT_DOUBLE_EQ(j["pass@1"].get<double>(), 0.289);
  EXPECT_DOUBLE_EQ(j["pass@8"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["cons@64"].get<double>(), 0.527);
  EXPECT_DOUBLE_EQ(j["truncation_rate"].get<double>(), 0.0625);
  EXPECT_FALSE(j.contains("pass@64"));
  EXPECT_EQ(summary_markdown("aime", s),
            "| task | problems | samples | pass@1 | pass@8 | cons@64 | mean tokens | truncated |\n"
            "|---|---|---|---|---|---|---|---|\n"
            "| aime | 30 | 1920 | 28.9 | 50.0 | 52.7 | 12345 | 6.2 |\n");
}

}  // namespace
}  // namespace r1::eval
