// The countdown grader: answer extraction, the accepted spellings, exact evaluation, and
// TinyZero's reward (1 correct, 0.1 well formed but wrong, 0 no answer or malformed).
#include "eval/countdown.h"

#include <gtest/gtest.h>

namespace r1::eval {
namespace {

double reward(const std::string& completion, std::vector<int64_t> numbers, int64_t target) {
  return grade_countdown(completion, numbers, target).reward;
}

TEST(Countdown, CorrectEquationsInEveryAcceptedSpelling) {
  const std::vector<int64_t> n = {25, 7, 3, 10};
  for (const char* c :
       {"<think>25 - 7 = 18, 18 * 3 = 54</think> \\boxed{(25 - 7) * 3}",
        "so <answer>(25-7)*3</answer>", "\\boxed{(25 - 7) \\times 3}", "\\boxed{(25 - 7) × 3}",
        "\\boxed{3 \\cdot (25 - 7)}", "\\boxed{(25 - 7) * 3 = 54}", "\\boxed{$(25 - 7) * 3$}",
        "<answer> 3*(25-7) = 54 </answer>"})
    EXPECT_EQ(reward(c, n, 54), 1.0) << c;
  // Intermediate fractions are exact: 8 / (3 - 8 / 3) = 24.
  EXPECT_EQ(reward("\\boxed{8 / (3 - 8 / 3)}", {8, 3, 8, 3}, 24), 1.0);
  EXPECT_EQ(reward("\\boxed{10 \\div 5 + 7}", {10, 5, 7}, 9), 1.0);
  // The last answer counts, whichever form it has.
  EXPECT_EQ(
      reward("\\boxed{25 + 3} no, <answer>25 + 7 * 3 + 10 - 2</answer>", {25, 7, 3, 10, 2}, 54),
      1.0);
}

TEST(Countdown, WellFormedButWrongEarnsATenth) {
  const std::vector<int64_t> n = {25, 7, 3};
  EXPECT_EQ(reward("\\boxed{25 + 7 + 3}", n, 54), 0.1);            // 35
  EXPECT_EQ(reward("\\boxed{25 + 25 + 3}", n, 53), 0.1);           // 25 used twice
  EXPECT_EQ(reward("\\boxed{25 + 26 + 3}", n, 54), 0.1);           // 26 not given
  EXPECT_EQ(reward("\\boxed{(25 - 7) * 3 = 55}", n, 54), 0.1);     // stated value is not its value
  EXPECT_EQ(reward("\\boxed{25 / (7 - 7)}", {25, 7, 7}, 1), 0.1);  // division by zero
  EXPECT_EQ(reward("\\boxed{7 / 3 * 25}", n, 58), 0.1);            // 175/3, not an integer
  const CountdownGrade g = grade_countdown("\\boxed{25 + 25 + 3}", n, 53);
  EXPECT_EQ(g.equation, "25 + 25 + 3");
  EXPECT_NE(g.why.find("more often than given"), std::string::npos) << g.why;
}

TEST(Countdown, NoAnswerOrMalformedEarnsNothing) {
  const std::vector<int64_t> n = {25, 7, 3};
  for (const char* c :
       {"(25 - 7) * 3", "\\boxed{}", "\\boxed{25 7 3}", "\\boxed{(25 - 7 * 3}", "\\boxed{25 ** 2}",
        "\\boxed{__import__('os').system('true')}", "\\boxed{25 + x}", "<answer>25 + 7</answer",
        "\\boxed{(25 - 7) * 3 = fifty-four}", "\\boxed{2.5 * 4}"})
    EXPECT_EQ(reward(c, n, 54), 0.0) << c << ": " << grade_countdown(c, n, 54).why;
}

TEST(Countdown, HostileInputIsBounded) {
  // Deep nesting and huge numbers end as malformed, never a crash or an overflow.
  std::string deep(100000, '(');
  EXPECT_EQ(reward("\\boxed{" + deep + "1" + std::string(100000, ')') + "}", {1}, 1), 0.0);
  EXPECT_EQ(reward("\\boxed{99999999999999999999 + 1}", {1}, 1), 0.0);
  std::string big = "\\boxed{1000000";
  for (int i = 0; i < 20; ++i) big += " * 1000000";
  EXPECT_EQ(reward(big + "}", std::vector<int64_t>(21, 1000000), 1), 0.0);
}

}  // namespace
}  // namespace r1::eval
