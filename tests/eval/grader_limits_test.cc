// Pathological answers are graded wrong, without a crash and in bounded time: long and deeply
// nested expressions, huge exponents, unclosed delimiters and boxes by the thousand, chains of
// matrix products. The bound (seconds) only catches hangs and quadratic blow-ups; a normal
// grade takes microseconds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "eval/math_answer.h"
#include "eval/math_equiv.h"

namespace r1::eval {
namespace {

std::string repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

double slowest = 0;  // seconds, the slowest grade of the test

// Grades `response` against `gold` the way `r1 eval` does; returns the verdict and checks the
// time it took.
bool grade_bounded(std::string_view gold, const std::string& response, const char* what) {
  auto t0 = std::chrono::steady_clock::now();
  ExtractedAnswer e = extract_math_answer(response);
  bool ok =
      e.source != AnswerSource::None && math_answers_equal(gold_math_answer(gold).text, e.text);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 5.0) << what << " took " << s << " s";
  if (s > slowest) slowest = s;
  return ok;
}

TEST(GraderLimits, PathologicalAnswersAreWrongInBoundedTime) {
  const size_t kb100 = 100 * 1024;
  EXPECT_FALSE(grade_bounded("3", "\\boxed{" + repeat("1+", kb100 / 2) + "1}", "100 KB sum"));
  EXPECT_FALSE(grade_bounded("1", "$" + repeat("1+", kb100 / 2) + "1$", "100 KB math span"));
  EXPECT_FALSE(grade_bounded(
      "1", "\\boxed{" + std::string(kb100 / 2, '{') + "1" + std::string(kb100 / 2, '}') + "}",
      "deep braces"));
  EXPECT_FALSE(grade_bounded("1", "\\boxed{" + std::string(kb100, '(') + "1}", "deep parens"));
  EXPECT_FALSE(grade_bounded("2", "\\boxed{" + repeat("\\frac{1}{", 5000) + "1}", "deep fracs"));
  EXPECT_FALSE(grade_bounded("1", "\\boxed{10^{10^{10^{10^{10}}}}}", "huge tower"));
  EXPECT_FALSE(grade_bounded("1", "\\boxed{2^{100000000000}}", "huge exponent"));
  EXPECT_FALSE(grade_bounded("1", "\\boxed{(1+x)^{99999999}}", "huge power of a variable"));
  EXPECT_FALSE(grade_bounded("1", "\\boxed{100000000000!}", "huge factorial"));
  EXPECT_FALSE(grade_bounded("1", repeat("\\[", kb100 / 2) + " 2", "unclosed \\["));
  EXPECT_FALSE(grade_bounded("1", repeat("\\(", kb100 / 2) + " 2", "unclosed \\("));
  EXPECT_FALSE(grade_bounded("1", repeat("$$ 2 ", kb100 / 5), "dollar runs"));
  EXPECT_FALSE(grade_bounded("1", repeat("\\frac{", kb100 / 6), "unclosed fracs"));
  EXPECT_FALSE(grade_bounded("1", repeat("\\boxed{", kb100 / 7), "unclosed boxes"));
  EXPECT_FALSE(grade_bounded("1", repeat("answer ", kb100 / 7) + "2", "answer phrases"));
  EXPECT_FALSE(grade_bounded("1", repeat("final answer is ", kb100 / 16), "final answer phrases"));
  EXPECT_FALSE(grade_bounded("1", repeat("answer: x = ", kb100 / 12) + "2", "answer equals"));
  std::string boxes;
  for (int i = 0; i < 10000; ++i) boxes += "\\boxed{" + std::to_string(i + 2) + "}";
  EXPECT_FALSE(grade_bounded("1", boxes, "10,000 adjacent boxes"));
  EXPECT_FALSE(grade_bounded("1", repeat("1,", kb100 / 2) + "1,2", "long list"));
  EXPECT_FALSE(grade_bounded("1", "$" + repeat("x,", 499) + "y$", "list of 500 variables"));
  std::string list;
  for (int i = 0; i < 300; ++i) list += "x^" + std::to_string(i % 9) + ",";
  EXPECT_FALSE(grade_bounded("$" + list + "y$", "$y," + list.substr(0, list.size() - 1) + "$",
                             "two lists of 300 expressions"));
  EXPECT_FALSE(grade_bounded("1", repeat(" and ", kb100 / 5) + "$2$", "separator words"));
  std::string m = "\\begin{pmatrix}1&1\\\\1&1\\end{pmatrix}";
  EXPECT_FALSE(grade_bounded("1", "$" + repeat(m, 25) + "$", "product of 25 matrices"));
  EXPECT_FALSE(grade_bounded(repeat("x<", 400) + "x", "$" + repeat("y<", 400) + "y$",
                             "long inequality chains"));
  // and the same machinery still grades a long but ordinary completion right
  EXPECT_TRUE(grade_bounded(
      "\\frac{1}{2}",
      repeat("We compute 3 + 4 = 7. ", 4000) + "So the answer is $\\boxed{\\frac{1}{2}}$.",
      "long completion"));
  std::printf("slowest pathological grade: %.1f ms\n", slowest * 1e3);
}

}  // namespace
}  // namespace r1::eval
