// The verifier interface on each task, with completions written the way models write them.
#include "eval/verifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "eval/loaders.h"

namespace r1::eval {
namespace {

Problem problem(const std::string& task, const std::string& answer) {
  Problem p;
  p.task = task;
  p.answer = answer;
  return p;
}

TEST(Verifier, FactoryKnowsTheTasks) {
  for (const char* t : {"math", "aime", "gsm8k", "gpqa", "code"})
    EXPECT_NE(make_verifier(t), nullptr);
  EXPECT_THROW(make_verifier("chess"), r1::Error);
}

TEST(Verifier, MathReadsTheAnswerAfterTheReasoning) {
  auto v = make_verifier("math");
  auto p = problem("math", "\\frac{3}{4}");
  auto r = v->evaluate(p, "<think>maybe \\boxed{1}</think>So the answer is $\\boxed{0.75}$.");
  EXPECT_TRUE(r.correct);
  EXPECT_DOUBLE_EQ(r.score, 1.0);
  EXPECT_EQ(r.extracted, "0.75");
  r = v->evaluate(p, "<think>\\boxed{\\frac34}</think>I give up: \\boxed{1}");
  EXPECT_FALSE(r.correct);
  EXPECT_DOUBLE_EQ(r.score, 0.0);
  EXPECT_EQ(r.extracted, "1");
  r = v->evaluate(p, "");
  EXPECT_FALSE(r.correct);
  EXPECT_EQ(r.extracted, "");
  // without fallbacks only boxed answers count
  VerifierOptions strict;
  strict.answer_fallbacks = false;
  EXPECT_TRUE(v->evaluate(p, "The final answer is 3/4").correct);
  EXPECT_FALSE(make_verifier("math", strict)->evaluate(p, "The final answer is 3/4").correct);
  EXPECT_TRUE(v->same_answer("\\frac12", "0.5"));
  EXPECT_FALSE(v->same_answer("\\frac12", "0.6"));
}

TEST(Verifier, AimeLeadingZeros) {
  auto v = make_verifier("aime");
  EXPECT_TRUE(v->evaluate(problem("aime", "025"), "\\boxed{25}").correct);
  EXPECT_TRUE(v->evaluate(problem("aime", "25"), "\\boxed{025}").correct);
  EXPECT_FALSE(v->evaluate(problem("aime", "025"), "\\boxed{250}").correct);
}

TEST(Verifier, Gsm8k) {
  auto v = make_verifier("gsm8k");
  auto p = problem("gsm8k", "Janet sells 9 eggs.\n#### 1,800");
  EXPECT_TRUE(v->evaluate(p, "She makes $1,800 per day.").correct);
  EXPECT_TRUE(v->evaluate(p, "so 3 * 600 = 1800\n#### 1800").correct);
  EXPECT_TRUE(v->evaluate(p, "Total: \\boxed{1800.00}").correct);
  EXPECT_EQ(v->evaluate(p, "a 12 then 1800 then 5").extracted, "5");
  EXPECT_FALSE(v->evaluate(p, "a 12 then 1800 then 5").correct);
  EXPECT_FALSE(v->evaluate(p, "no number").correct);
  auto loaded = load_gsm8k(std::string(R1_SOURCE_DIR) + "/data/gsm8k_test.jsonl");
  // every gold worked solution grades correct against its own answer
  size_t ok = 0;
  for (const auto& q : loaded) {
    std::string solution = "The answer: " + q.answer;
    ok += v->evaluate(q, solution).correct;
  }
  EXPECT_EQ(ok, loaded.size());
}

TEST(Verifier, Gsm8kGoldSolutionsGradeCorrect) {
  // The full GSM8K worked solutions ("... #### N") read through the "####" rule.
  std::ifstream in(std::string(R1_SOURCE_DIR) + "/data/gsm8k_test.jsonl");
  auto v = make_verifier("gsm8k");
  std::string line;
  size_t n = 0, ok = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    Problem p = problem("gsm8k", j["answer"].get<std::string>());
    ok += v->evaluate(p, j["answer"].get<std::string>()).correct;
    ++n;
  }
  EXPECT_EQ(n, 1319u);
  EXPECT_EQ(ok, n);
}

TEST(Verifier, ChoiceExtractionFollowsSimpleEvals) {
  EXPECT_EQ(extract_choice_letter("Thinking...\nAnswer: B"), "B");
  EXPECT_EQ(extract_choice_letter("answer:$c$"), "C");
  EXPECT_EQ(extract_choice_letter("ANSWER :\tD"), "D");
  EXPECT_EQ(extract_choice_letter("Answer: E"), "");
  EXPECT_EQ(extract_choice_letter("Answer:\nA"), "");  // only spaces and tabs may separate
  EXPECT_EQ(extract_choice_letter("Answer: A then Answer: B"), "A");  // first match, as re.search
  EXPECT_EQ(extract_choice_letter("<think>Answer: A</think>Answer: C"), "C");
  auto v = make_verifier("gpqa");
  auto p = problem("gpqa", "C");
  EXPECT_TRUE(v->evaluate(p, "reasoning\n\nAnswer: C").correct);
  EXPECT_FALSE(v->evaluate(p, "reasoning\n\nAnswer: A").correct);
  EXPECT_FALSE(v->evaluate(p, "I think C").correct);
}

TEST(Verifier, CodeBlockExtraction) {
  std::string lang;
  EXPECT_EQ(
      extract_code_block("x\n```python\nprint(1)\n```\ny\n```cpp\nint main(){}\n```\n", &lang),
      "int main(){}\n");
  EXPECT_EQ(lang, "cpp");
  EXPECT_EQ(extract_code_block("```py\nprint(2)\n```", &lang), "print(2)\n");
  EXPECT_EQ(lang, "python");
  EXPECT_EQ(extract_code_block("<think>```python\nprint(1)\n```</think>no code", &lang), "");
  EXPECT_EQ(extract_code_block("```python\nprint(1)\n", &lang), "");  // unclosed: truncated
}

Problem sum_problem() {
  Problem p;
  p.task = "code";
  p.tests = {{"1 2\n", "3\n", false}, {"10 -4\n", "6\n", false}};
  return p;
}

TEST(Verifier, CodePythonPassesAndFails) {
  auto v = make_verifier("code");
  auto p = sum_problem();
  auto good = v->evaluate(p, "```python\na, b = map(int, input().split())\nprint(a + b)   \n```");
  EXPECT_TRUE(good.correct);
  EXPECT_NE(good.extracted.find("print(a + b)"), std::string::npos);
  EXPECT_FALSE(
      v->evaluate(p, "```python\na, b = map(int, input().split())\nprint(a - b)\n```").correct);
  EXPECT_FALSE(v->evaluate(p, "```python\nraise SystemExit(3)\n```").correct);
  EXPECT_FALSE(v->evaluate(p, "no code at all").correct);
  Problem mixed = p;
  mixed.tests[0].functional = true;
  mixed.entry_point = "f";
  EXPECT_FALSE(v->evaluate(mixed, "```python\nprint(3)\n```").correct);
}

TEST(Verifier, CodeFunctionalTests) {
  // LiveCodeBench function-call tests: one JSON argument per input line, JSON result.
  auto problems =
      load_livecodebench(std::string(R1_SOURCE_DIR) + "/tests/fixtures/eval/lcb_sample.jsonl");
  const Problem& p = problems.at(1);
  ASSERT_EQ(p.entry_point, "f");
  auto v = make_verifier("code");
  std::string good =
      "```python\nclass Solution:\n    def f(self, x: int) -> int:\n        return 2 * x\n```";
  std::string bad =
      "```python\nclass Solution:\n    def f(self, x: int) -> int:\n        return x + 2\n```";
  EXPECT_TRUE(v->evaluate(p, good).correct);
  EXPECT_FALSE(v->evaluate(p, bad).correct);
  Problem two_args = p;
  two_args.entry_point = "add";
  two_args.tests = {{"[1, 2, 3]\n4", "[5, 6, 7]", true}, {"[]\n1", "[]", true}};
  EXPECT_TRUE(v->evaluate(two_args,
                          "```python\nclass Solution:\n    def add(self, a: List[int], k: int) -> "
                          "List[int]:\n        return [x + k for x in a]\n```")
                  .correct);
  EXPECT_FALSE(
      v->evaluate(two_args,
                  "```python\nclass Solution:\n    def add(self, a, k):\n        return a\n```")
          .correct);
}

TEST(Verifier, CodeTimeoutIsWrong) {
  VerifierOptions o;
  o.sandbox.cpu_seconds = 1;
  o.sandbox.wall_seconds = 2;
  auto v = make_verifier("code", o);
  EXPECT_FALSE(v->evaluate(sum_problem(), "```python\nwhile True: pass\n```").correct);
}

TEST(Verifier, CodeCpp) {
  auto v = make_verifier("code");
  auto p = sum_problem();
  EXPECT_TRUE(v->evaluate(p,
                          "```cpp\n#include <iostream>\nint main(){long a,b;std::cin>>a>>b;"
                          "std::cout<<a+b<<\"\\n\";}\n```")
                  .correct);
  EXPECT_FALSE(v->evaluate(p, "```cpp\nint main( {\n```").correct);  // does not compile
}

}  // namespace
}  // namespace r1::eval

namespace r1::eval {
namespace {

TEST(Verifier, RequireThinkEnd) {
  VerifierOptions o;
  o.require_think_end = true;
  auto p = problem("math", "5");
  auto v = make_verifier("math", o);
  EXPECT_FALSE(v->evaluate(p, "reasoning cut off ... \\boxed{5}").correct);
  EXPECT_TRUE(v->evaluate(p, "reasoning</think>\\boxed{5}").correct);
  EXPECT_TRUE(make_verifier("math")->evaluate(p, "reasoning cut off ... \\boxed{5}").correct);
}

}  // namespace
}  // namespace r1::eval

namespace r1::eval {
namespace {

// The AoPS solutions of AIME 2024 end in a \boxed / \framebox answer: each grades correct.
TEST(Verifier, Aime2024SolutionsGradeCorrect) {
  std::ifstream in(std::string(R1_SOURCE_DIR) + "/data/aime24.jsonl");
  auto v = make_verifier("aime");
  std::string line;
  size_t n = 0, ok = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    Problem p = problem("aime", j["answer"].get<std::string>());
    bool correct = v->evaluate(p, j["solution"].get<std::string>()).correct;
    EXPECT_TRUE(correct) << j["id"];
    ok += correct;
    ++n;
  }
  EXPECT_EQ(n, 30u);
  EXPECT_EQ(ok, n);
}

}  // namespace
}  // namespace r1::eval

namespace r1::eval {
namespace {

// Verifiers hold no mutable state: RL grades samples from several threads at once.
TEST(Verifier, ConcurrentUse) {
  auto math = make_verifier("math");
  auto code = make_verifier("code");
  Problem m = problem("math", "\\frac{1}{2}");
  Problem c = sum_problem();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        bool want = (i + t) % 2 == 0;
        ok += math->evaluate(m, want ? "\\boxed{0.5}" : "\\boxed{0.6}").correct == want;
      }
      bool want = t % 2 == 0;
      std::string body = want ? "print(a + b)" : "print(a * b)";
      ok += code->evaluate(c, "```python\na, b = map(int, input().split())\n" + body + "\n```")
                .correct == want;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 4 * 51);
}

}  // namespace
}  // namespace r1::eval
