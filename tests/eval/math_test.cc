// The math grader: extraction, normalization, the committed pairs suite and MATH-500 self-grading.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/math_answer.h"
#include "eval/math_equiv.h"
#include "eval/math_expr.h"
#include "read_jsonl.h"

namespace r1::eval {
namespace {

using testing::read_jsonl;

TEST(MathExtract, StripsReasoningAndTakesLastBox) {
  EXPECT_EQ(strip_reasoning("a</think>b</think>c"), "c");
  EXPECT_EQ(strip_reasoning("no think"), "no think");
  auto e = extract_math_answer(
      "<think>\\boxed{1}</think> so \\boxed{2} looked right at first but the last step was wrong "
      "and after redoing it the result is \\boxed{\\frac{3}{4}}");
  EXPECT_EQ(e.text, "\\frac{3}{4}");
  EXPECT_EQ(e.source, AnswerSource::Boxed);
  // reasoning-only boxes are ignored; the fallback then finds the last number
  e = extract_math_answer("<think>\\boxed{1}</think> the result is 7 apples");
  EXPECT_EQ(e.text, "7");
  EXPECT_EQ(e.source, AnswerSource::LastNumber);
}

// Boxes close together, or a little apart with a separator, are one answer (Math-Verify's rule).
TEST(MathExtract, SeveralBoxesAreOneAnswer) {
  auto e = extract_math_answer("The integers are \\boxed{-2} and \\boxed{1}.");
  EXPECT_EQ(e.text, "-2, 1");
  EXPECT_EQ(e.parts, (std::vector<std::string>{"-2", "1"}));
  EXPECT_EQ(extract_math_answer("\\[\\boxed{(1, 2)}, \\boxed{(2, 1)}\\]").parts.size(), 2u);
  EXPECT_EQ(extract_math_answer("\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}").text,
            "(2, 2), (6, 2)");
  // the same answer boxed twice counts once
  EXPECT_EQ(extract_math_answer("\\boxed{004} is right.\n\n**Final Answer**\n\\boxed{004}").text,
            "004");
  // far apart: only the last
  EXPECT_EQ(extract_math_answer("first \\boxed{200}, then a long computation of the second "
                                "period's interest on the new balance gives \\boxed{255}")
                .text,
            "255");
  // a later "final answer is ... I hope" wins over the box
  e = extract_math_answer(
      "so \\boxed{200}. Final Answer: The final answer is $10,455$. I hope it is.");
  EXPECT_EQ(e.text, "10,455");
  EXPECT_EQ(e.source, AnswerSource::Phrase);
}

TEST(MathExtract, MathSpansAndPlainNumbers) {
  auto e = extract_math_answer("We find that $x \\lt 3$.");
  EXPECT_EQ(e.text, "x \\lt 3");
  EXPECT_EQ(e.source, AnswerSource::MathSpan);
  EXPECT_EQ(extract_math_answer("so $21,16$ or $11$").parts,
            (std::vector<std::string>{"21,16", "11"}));
  EXPECT_EQ(extract_math_answer("$20$ percent of them").text, "20\\%");
  // the last math span or number, whichever ends last
  EXPECT_EQ(extract_math_answer("is $(7, 6)$. <|im_start|>user").text, "(7, 6)");
  EXPECT_EQ(extract_math_answer("with $x$ apples we get 12").text, "12");
  // plain numbers as Math-Verify reads them
  EXPECT_EQ(last_number("AZYUK2A"), "");
  EXPECT_EQ(last_number("costs $1,000.99 in all"), "1000.99");
  EXPECT_EQ(last_number("1 000"), "1000");
  EXPECT_EQ(last_number("Soucis : 2,74 $ a.."), "2.74");
  EXPECT_EQ(last_number("1000,99"), "1000.99");
  EXPECT_EQ(last_number("0,111"), "0.111");
  EXPECT_EQ(last_number("about .4"), "0.4");
  EXPECT_EQ(last_number("28 pct"), "28%");
  EXPECT_EQ(last_number("x-5"), "");
  // "answer" phrases take the value right after them
  EXPECT_EQ(extract_math_answer("Final Answer: Jane started Sphere 3 hours ago. I hope so.").text,
            "3");
  EXPECT_EQ(extract_math_answer("Answer: 2x = 10, checked").text, "10");
  // targets can be switched off as Math-Verify's match_types do
  ExtractOptions latex_only;
  latex_only.plain_numbers = false;
  EXPECT_EQ(extract_math_answer("Answer $ \n 9 \n $", latex_only).source, AnswerSource::None);
  EXPECT_EQ(extract_math_answer("Answer $ \n 9 \n $").text, "9");
}

TEST(MathExtract, GoldSolutions) {
  EXPECT_EQ(gold_math_answer("\\frac{1}{2}").text, "\\frac{1}{2}");
  EXPECT_EQ(gold_math_answer("$(1,3)$").text, "(1,3)");
  EXPECT_EQ(gold_math_answer("\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).").text, "1, -2");
  EXPECT_EQ(gold_math_answer("so $x=1/5$, or $\\boxed{20}$ percent.").text, "20");
  // an unclosed box in a gold solution runs to the end
  EXPECT_EQ(gold_math_answer("\\boxed{W(n) = 1").text, "W(n) = 1");
  EXPECT_EQ(gold_math_answer("1, 2").text, "1, 2");
}

TEST(MathExtract, NestedAndSpacedBoxes) {
  EXPECT_EQ(last_boxed("x \\boxed{\\frac{1}{\\sqrt{2}}} y"), "\\frac{1}{\\sqrt{2}}");
  EXPECT_EQ(last_boxed("\\boxed{\\{1,2\\}}"), "\\{1,2\\}");
  EXPECT_EQ(last_boxed("$\\boxed 5$"), "5");
  EXPECT_EQ(last_boxed("\\fbox{12}"), "12");
  EXPECT_EQ(last_boxed("\\boxed{\\boxed{ 7 }}"), "7");
  EXPECT_EQ(last_boxed("$\\framebox{204}$ minutes"), "204");
  // an unclosed (truncated) last box falls back to the previous one
  EXPECT_EQ(last_boxed("\\boxed{3} and \\boxed{4"), "3");
  EXPECT_EQ(last_boxed("nothing here"), "");
}

TEST(MathExtract, Fallbacks) {
  EXPECT_EQ(extract_math_answer("<answer> 42 </answer>").text, "42");
  EXPECT_EQ(extract_math_answer("<answer> 42 </answer>").source, AnswerSource::AnswerTag);
  auto e = extract_math_answer("Thus the final answer is $\\frac{1}{2}$. I hope");
  EXPECT_EQ(e.text, "\\frac{1}{2}");
  EXPECT_EQ(e.source, AnswerSource::Phrase);
  EXPECT_EQ(extract_math_answer("The answer is 12.\nDone").text, "12");
  EXPECT_EQ(extract_math_answer("Final Answer: The largest $n$ is 34.").text, "34");
  EXPECT_EQ(extract_math_answer("The final answer is 12,000,023. I hope it is correct.").text,
            "12000023");
  EXPECT_EQ(
      extract_math_answer("Final Answer: The final answer is $3.5$. I hope it is correct.").text,
      "3.5");
  EXPECT_EQ(extract_math_answer("we get 1,234 and then -3.5").text, "-3.5");
  EXPECT_EQ(extract_math_answer("total: 1,234").text, "1234");
  EXPECT_EQ(extract_math_answer("no digits").source, AnswerSource::None);
  EXPECT_EQ(extract_math_answer("the answer is 5", /*fallbacks=*/false).source, AnswerSource::None);
}

TEST(MathNormalize, FactsSectionSevenRules) {
  EXPECT_EQ(normalize_math_answer("\\dfrac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(normalize_math_answer("\\left( 3, \\frac{\\pi}{2} \\right)"), "(3,\\frac{\\pi}{2})");
  EXPECT_EQ(normalize_math_answer("5.4 \\text{ cents}"), "5.4");
  EXPECT_EQ(normalize_math_answer("30^\\circ"), "30");
  EXPECT_EQ(normalize_math_answer("\\$18.90"), "18.90");
  EXPECT_EQ(normalize_math_answer("12."), "12");
  EXPECT_EQ(normalize_math_answer("10,\\!080"), "10080");
  EXPECT_EQ(normalize_math_answer("1,234,567"), "1234567");
  EXPECT_EQ(normalize_math_answer("1,23"), "1,23");  // not a thousands pattern: a list
  EXPECT_EQ(normalize_math_answer("x = 5"), "5");
  EXPECT_EQ(normalize_math_answer("y = 2x + 3"), "y=2x+3");
  EXPECT_EQ(normalize_math_answer("x \\in [-2,7]"), "[-2,7]");
  EXPECT_EQ(normalize_math_answer("\\text{(C)}"), "C");
  EXPECT_EQ(normalize_math_answer("50\\%"), "50%");
  EXPECT_EQ(normalize_math_answer("\\cot x"), "\\cot x");
  EXPECT_EQ(normalize_math_answer("$\\frac12$"), "\\frac12");
}

TEST(MathParse, Structures) {
  EXPECT_EQ(to_string(parse_math_answer("(3,4]")), "(3, 4]");
  EXPECT_EQ(parse_math_answer("\\{1,2\\}").kind, MathNode::Kind::Set);
  EXPECT_EQ(parse_math_answer("1,2").kind, MathNode::Kind::List);
  EXPECT_EQ(parse_math_answer("(0,1)\\cup(2,3)").kind, MathNode::Kind::Union);
  EXPECT_EQ(parse_math_answer("x=5").kind, MathNode::Kind::Relation);
  EXPECT_EQ(parse_math_answer("1\\pm\\sqrt{2}").kind, MathNode::Kind::List);
  EXPECT_EQ(parse_math_answer("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}").kind,
            MathNode::Kind::Matrix);
  EXPECT_EQ(to_string(parse_math_answer("x<3")), "x < 3");
  EXPECT_EQ(to_string(parse_math_answer("1 = \\zzz = x")), "1 = text(\\zzz) = x");
  EXPECT_EQ(to_string(*relation_as_set(parse_math_answer("x<3"))), "(-inf, 3)");
  EXPECT_EQ(to_string(*relation_as_set(parse_math_answer("-1\\le x<3"))), "[-1, 3)");
  EXPECT_EQ(to_string(*relation_as_set(parse_math_answer("3 \\ge f(x) > 1"))), "(1, 3]");
  EXPECT_EQ(to_string(*relation_as_set(parse_math_answer("1\\le|z|\\le2"))), "[-2, -1] U [1, 2]");
  EXPECT_FALSE(relation_as_set(parse_math_answer("x\\ne3")));
  EXPECT_FALSE(relation_as_set(parse_math_answer("x<y<z<w")));
  EXPECT_FALSE(relation_as_set(parse_math_answer("x<y")));
  EXPECT_EQ(to_string(*parse_math_expr("1\\frac{4}{5}")), "(1 + (4 / 5))");
  EXPECT_EQ(to_string(*parse_math_expr("2\\frac{x}{4}")), "(2 * (x / 4))");
  EXPECT_EQ(to_string(*parse_math_expr("-x^2")), "-(x ^ 2)");
  EXPECT_FALSE(parse_math_expr("\\unknowncommand{3}").has_value());
  EXPECT_FALSE(parse_math_expr("(1+2").has_value());
}

TEST(MathEquiv, CommittedPairsSuite) {
  auto rows = read_jsonl(std::string(R1_SOURCE_DIR) + "/tests/fixtures/eval/math_pairs.jsonl");
  ASSERT_GE(rows.size(), 150u);
  size_t equal = 0, unequal = 0;
  for (const auto& row : rows) {
    std::string a = row.at("a"), b = row.at("b"), reason = row.at("reason");
    bool want = row.at("equal");
    (want ? equal : unequal)++;
    // "one_way": a relation as the gold answer matches its interval, not the other way round
    // unless the options allow it (as Math-Verify's allow_set_relation_comp)
    bool one_way = row.value("one_way", false);
    EXPECT_EQ(math_answers_equal(a, b), want) << reason << ": [" << a << "] vs [" << b << "]";
    EXPECT_EQ(math_answers_equal(b, a), want && !one_way) << "(swapped) " << reason;
    if (one_way) {
      MathGradeOptions lenient;
      lenient.relation_matches_set = true;
      EXPECT_TRUE(math_answers_equal(b, a, lenient)) << "(swapped, lenient) " << reason;
    }
  }
  EXPECT_GE(equal, 50u);
  EXPECT_GE(unequal, 50u);
}

// Every MATH-500 gold solution, graded through the full completion path (last box of the
// solution), must match its own answer.
TEST(MathEquiv, Math500SolutionsGradeCorrect) {
  auto rows = read_jsonl(std::string(R1_SOURCE_DIR) + "/data/math500.jsonl");
  ASSERT_EQ(rows.size(), 500u);
  size_t correct = 0;
  for (const auto& row : rows) {
    std::string solution = row.at("solution"), answer = row.at("answer");
    auto extracted = extract_math_answer(solution);
    bool ok = math_answers_equal(answer, extracted.text);
    EXPECT_TRUE(ok) << row.at("unique_id") << ": " << answer << " vs " << extracted.text;
    correct += ok;
  }
  std::printf("MATH-500 self-grading: %zu/500 = %.1f%%\n", correct, correct / 5.0);
  EXPECT_GE(correct, 498u);
}

// Each MATH-500 answer is parsed as math (not left as text) unless it is a word answer, so the
// structural comparison is really exercised on the real answers.
TEST(MathEquiv, Math500AnswersParse) {
  auto rows = read_jsonl(std::string(R1_SOURCE_DIR) + "/data/math500.jsonl");
  size_t text = 0;
  for (const auto& row : rows) {
    auto n = parse_math_answer(normalize_math_answer(row.at("answer").get<std::string>()));
    if (n.kind == MathNode::Kind::Text) {
      ++text;
      std::printf("text answer: %s\n", row.at("answer").get<std::string>().c_str());
    }
  }
  EXPECT_LE(text, 10u);
}

// Distinct MATH-500 answers are almost never equal; the few that are were checked by hand.
TEST(MathEquiv, Math500DistinctAnswersMostlyDiffer) {
  auto rows = read_jsonl(std::string(R1_SOURCE_DIR) + "/data/math500.jsonl");
  std::vector<std::string> answers;
  for (const auto& row : rows) {
    std::string a = normalize_math_answer(row.at("answer").get<std::string>());
    if (std::find(answers.begin(), answers.end(), a) == answers.end()) answers.push_back(a);
  }
  size_t equal_pairs = 0;
  for (size_t i = 0; i < answers.size(); ++i)
    for (size_t j = i + 1; j < answers.size(); ++j)
      if (math_normalized_equal(answers[i], answers[j])) {
        ++equal_pairs;
        std::printf("equal: [%s] [%s]\n", answers[i].c_str(), answers[j].c_str());
      }
  EXPECT_LE(equal_pairs, 20u);
}

}  // namespace
}  // namespace r1::eval

namespace r1::eval {
namespace {

// Garbage, deep nesting and long input: the grader returns (RL rewards run on untrusted text).
TEST(MathEquiv, SurvivesAdversarialInput) {
  std::string deep_parens(5000, '(');
  std::string minuses(20000, '-');
  std::string long_sum;
  for (int i = 0; i < 400; ++i) long_sum += "1+";
  long_sum += "1";
  EXPECT_FALSE(math_answers_equal("1", deep_parens + "1"));
  EXPECT_FALSE(math_answers_equal("1", minuses + "1"));
  EXPECT_TRUE(math_answers_equal("401", long_sum));
  EXPECT_FALSE(math_answers_equal("1", std::string(3000, '{') + "1" + std::string(3000, '}')));
  EXPECT_FALSE(math_answers_equal("1", "\\frac{\\frac{\\frac{"));
  EXPECT_FALSE(math_answers_equal("x", "x^{x^{x^{x^{x^{x^{x^{x}}}}}}}"));
  EXPECT_FALSE(math_answers_equal("1", "10^{10^{10}}"));
  EXPECT_FALSE(math_answers_equal("1", "1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1\\pm1"));
  // a fixed-seed stream of random strings over the characters answers are made of
  const std::string alphabet = "0123456789+-*/^_{}()[]|,.=<>\\ xyzabcdefpi%!&";
  uint64_t state = 12345;
  for (int n = 0; n < 3000; ++n) {
    std::string s;
    size_t len = 1 + n % 40;
    for (size_t k = 0; k < len; ++k) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      s += alphabet[(state >> 33) % alphabet.size()];
    }
    (void)math_answers_equal(s, "x+1");
    EXPECT_TRUE(math_answers_equal(s, s) || normalize_math_answer(s).empty()) << s;
  }
}

}  // namespace
}  // namespace r1::eval

namespace r1::eval {
namespace {

// Rewritings of every MATH-500 answer that keep its value must grade correct, and changing one
// digit must not: a check of the grader on the real answers in both directions.
TEST(MathEquiv, Math500RewritingsAndDigitChanges) {
  std::ifstream in(std::string(R1_SOURCE_DIR) + "/data/math500.jsonl");
  std::string line;
  size_t rewrites = 0, rewrites_ok = 0, changed = 0, changed_rejected = 0;
  while (std::getline(in, line)) {
    std::string answer = nlohmann::json::parse(line).at("answer");
    std::string dfrac = answer;
    for (size_t p = dfrac.find("\\frac"); p != std::string::npos; p = dfrac.find("\\frac", p + 6))
      dfrac.replace(p, 5, "\\dfrac");
    // a space after each comma that separates elements (not a thousands separator "10,\\!080")
    std::string spaced;
    for (size_t i = 0; i < answer.size(); ++i) {
      spaced += answer[i];
      bool thousands =
          i + 1 < answer.size() && (answer[i + 1] == '\\' || std::isdigit(answer[i + 1]));
      if (answer[i] == ',' && !thousands) spaced += ' ';
    }
    for (const std::string& r :
         {"$" + answer + "$", dfrac, spaced, "\\left. " + answer + " \\right.", answer + "."}) {
      ++rewrites;
      bool ok = math_answers_equal(answer, r);
      rewrites_ok += ok;
      EXPECT_TRUE(ok) << answer << " vs " << r;
    }
    // change the first digit (the last may be the exponent of a unit, "15\\mbox{ cm}^2")
    size_t d = answer.find_first_of("0123456789");
    if (d == std::string::npos) continue;
    std::string other = answer;
    other[d] = other[d] == '9' ? '8' : static_cast<char>(other[d] + 1);
    ++changed;
    bool same = math_answers_equal(answer, other);
    changed_rejected += !same;
    EXPECT_FALSE(same) << answer << " vs " << other;
  }
  std::printf("MATH-500 rewritings graded equal: %zu/%zu; one-digit changes rejected: %zu/%zu\n",
              rewrites_ok, rewrites, changed_rejected, changed);
  EXPECT_EQ(rewrites, 2500u);
}

}  // namespace
}  // namespace r1::eval
