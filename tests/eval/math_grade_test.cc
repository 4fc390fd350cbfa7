// Whole completions graded by the math verifier, one case per kind of answer the grader reads
// (issue 14's list): several answers, answers without a box, equations and relations, \ne
// spellings, sets and tuples, numbers. r1's own cases; the Math-Verify suite is in
// mathverify_agreement_test.cc.
#include <gtest/gtest.h>

#include <string>

#include "eval/problem.h"
#include "eval/verifier.h"

namespace r1::eval {
namespace {

struct Case {
  const char* gold;
  const char* completion;
  bool correct;
};

TEST(MathGrade, CompletionsOfEveryKind) {
  const Case cases[] = {
      // several answers
      {"1, -2", "So the integers are \\boxed{-2} and \\boxed{1}.", true},
      {"1, -2", "So the integers are \\boxed{-2} and \\boxed{3}.", false},
      {"1, -2", "So the integer is \\boxed{1}.", false},
      {"(2, 2), (6, 2)", "$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$", true},
      {"\\boxed{1} papers and \\boxed{2} bins", "$\\boxed{1,2}$", true},
      // no box: the final-answer phrase, then the last math span
      {"10455", "Adding the interest gives $10,200 + $255. The final answer is $10,455$.", true},
      {"10455", "The final answer is $10,456$.", false},
      {"x < 3", "Solving, we find that $x \\lt 3$.", true},
      {"x < 3", "Solving, we find that $x \\le 3$.", false},
      {"3", "Final Answer: Jane started growing Sphere 3 hours ago.", true},
      {"7", "so the count is 7 apples", true},
      // equations and relations
      {"x = 11", "Thus $x = 5+5+1 = 7 = 11$.", true},
      {"x < 1", "Dividing by $-1$: $-x > -1$.", true},
      {"|AB| = 1", "The distance is $\\boxed{1}$.", true},
      {"S:T = 7:32", "The ratio is $\\boxed{7:32}$.", true},
      {"p=5, q=2; p=7, q=2", "The pairs are $\\boxed{(5,2), (7,2)}$.", true},
      {"(x, y) = (5, 8), (8, 5)", "$\\boxed{(x, y) = (5, 8) \\quad \\text{and} \\quad (8, 5)}$",
       true},
      // \ne in every spelling
      {"x \\ne 3", "We find that $x \\neq 3$.", true},
      {"x \\neq 5", "The solution is $x != 5$", true},
      {"x \\neq 5", "The solution is $x != 4$", false},
      // sets, intervals, tuples
      {"(37,3,3,13),(17,3,3,7),(3,37,3,13)", "$\\boxed{(3, 37, 3, 13), (17,3,3,7), (37,3,3,13)}$",
       true},
      {"-12;-11;-10", "$\\boxed{\\{-12, -11, -10\\}}$", true},
      {"(1,3)", "So the answer is ${1,3}$", true},
      {"0<f(x)<1", "The range is $(0,1)$.", true},
      {"[-2, 7]", "The solution set is $-2 \\le x \\le 7$.", false},  // interval notation asked
      // numbers
      {"1000.99", "The value is 1000,99", true},
      {"\\frac{1}{12}", "The probability is $0.0833333$", true},
      {"\\frac{1}{3}", "The probability is $0.333$", false},
      {"28\\%", "$\\boxed{28 pct}$", true},
      {"2", "The code is AZYUK2A", false},
  };
  auto v = make_verifier("math");
  for (const auto& c : cases) {
    Problem p;
    p.task = "math";
    p.answer = c.gold;
    Verdict verdict = v->evaluate(p, c.completion);
    EXPECT_EQ(verdict.correct, c.correct) << "gold [" << c.gold << "] completion [" << c.completion
                                          << "] extracted [" << verdict.extracted << "]";
  }
}

}  // namespace
}  // namespace r1::eval
