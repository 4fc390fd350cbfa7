// `r1 eval grade` and `r1 eval extract`, run as separate processes the way scripts use them.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include "cli_run.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../common/temp_path.h"

namespace {

using r1::testing::run_r1;
using CliRun = r1::testing::CliResult;

std::vector<nlohmann::json> lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line));
  return v;
}

TEST(EvalCli, GradesEachLineInOrder) {
  std::string input =
      R"j({"gold": "\\frac{1}{2}", "response": "<think>\\boxed{7}</think> so \\boxed{0.5}"})j"
      "\n"
      R"j({"gold": "(3,4]", "response": "\\boxed{(3,4)}"})j"
      "\n"
      "\n"
      R"j({"gold": "025", "response": "The answer is $\\boxed{25}$", "task": "aime"})j"
      "\n"
      R"j({"gold": "Natalia sold 48.\n#### 72", "response": "72 clips", "task": "gsm8k"})j"
      "\n"
      R"j({"gold": "B", "response": "Answer: $B$", "task": "gpqa"})j"
      "\n"
      R"j({"gold": 27, "response": "\\boxed{27.0}"})j"
      "\n";
  CliRun r = run_r1("eval grade", input);
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 6u) << r.out;
  EXPECT_EQ(out[0], nlohmann::json::parse(R"j({"correct": true, "extracted": "0.5"})j"));
  EXPECT_EQ(out[1], nlohmann::json::parse(R"j({"correct": false, "extracted": "(3,4)"
})j"));
  EXPECT_EQ(out[2]["correct"], true);
  EXPECT_EQ(out[3]["extracted"], "72");
  EXPECT_EQ(out[3]["correct"], true);
  EXPECT_EQ(out[4]["extracted"], "B");
  EXPECT_EQ(out[5]["correct"], true);
}

TEST(EvalCli, ExtractPrintsEveryAnswerAndItsSource) {
  std::string input = R"j({"response": "The integers are \\boxed{-2} and \\boxed{1}."})j"
                      "\n"
                      R"j({"response": "The final answer is $10,455$. I hope it is correct."})j"
                      "\n"
                      R"j({"gold": "Thus $\\boxed{14{,}916}$ is our answer."})j"
                      "\n"
                      R"j({"response": "no answer here", "x": 1})j"
                      "\n";
  CliRun r = run_r1("eval extract", input);
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 4u) << r.out;
  EXPECT_EQ(out[0]["answers"], nlohmann::json::parse(R"j(["-2", "1"])j"));
  EXPECT_EQ(out[0]["source"], "boxed");
  EXPECT_EQ(out[1]["extracted"], "10,455");
  EXPECT_EQ(out[1]["normalized"], "10455");
  EXPECT_EQ(out[1]["source"], "phrase");
  EXPECT_EQ(out[2]["normalized"], "14916");
  EXPECT_EQ(out[3]["source"], "none");
  r = run_r1("eval extract --boxed-only", R"j({"response": "The answer is 5"})j"
                                          "\n");
  EXPECT_EQ(lines(r.out).at(0)["source"], "none");
  r = run_r1("eval extract", R"j({"gold": "1", "response": "2"})j"
                             "\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("stdin line 1"), std::string::npos) << r.err;
}

TEST(EvalCli, TaskFlagAndCodeTests) {
  CliRun r = run_r1("eval grade --task gsm8k", R"j({"gold": "1,000", "response": "1000"})j"
                                               "\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.out).at(0)["correct"], true);
  r = run_r1(
      "eval grade --task code",
      R"j({"tests": [{"input": "4\n", "output": "16\n"}], "response": "```python\nn = int(input())\nprint(n * n)\n```"})j"
      "\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.out).at(0)["correct"], true);
}

TEST(EvalCli, BadLineIsAnErrorWithItsLineNumber) {
  CliRun r = run_r1("eval grade", R"j({"gold": "1", "response": "\\boxed{1}"})j"
                                  "\n"
                                  "{not json\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.out).size(), 1u);  // the good line before it was answered
  EXPECT_NE(r.err.find("stdin line 2: not valid JSON"), std::string::npos) << r.err;
  r = run_r1("eval grade",
             "\n"
             R"j({"response": "x"})j"
             "\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("stdin line 2: missing \"gold\""), std::string::npos) << r.err;
  r = run_r1("eval grade", R"j({"gold": "E", "response": "Answer: E", "task": "gpqa"})j"
                           "\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("stdin line 1: a gpqa gold answer is one letter"), std::string::npos)
      << r.err;
  r = run_r1("eval grade --task chess", "");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown task \"chess\""), std::string::npos) << r.err;
  r = run_r1("eval grade", R"j({"gold": "1", "response": 5})j"
                           "\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("stdin line 1: \"response\" must be a string"), std::string::npos) << r.err;
}

TEST(EvalCli, Countdown) {
  // Grading lines {"numbers", "target", "response"}; the reward is TinyZero's.
  CliRun r =
      run_r1("eval grade --task countdown",
             R"j({"numbers": [25, 7, 3], "target": 54, "response": "\\boxed{(25-7)*3}"})j"
             "\n"
             R"j({"numbers": [25, 7, 3], "target": 54, "response": "<answer>25+7</answer>"})j"
             "\n"
             R"j({"numbers": [25, 7, 3], "target": 54, "response": "no idea"})j"
             "\n");
  ASSERT_EQ(r.code, 0) << r.err;
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0],
            nlohmann::json::parse(R"({"correct": true, "extracted": "(25-7)*3", "reward": 1.0})"));
  EXPECT_EQ(out[1]["reward"], 0.1);
  EXPECT_EQ(out[2]["reward"], 0.0);
  r = run_r1("eval grade --task countdown",
             R"j({"numbers": [1, "x"], "target": 3, "response": ""})j"
             "\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("countdown numbers are integers"), std::string::npos) << r.err;
  // A generated evaluation set runs through r1 eval --task countdown.
  const std::string data = r1::testing::fresh_temp_dir("r1_countdown_eval_") + "/set.jsonl";
  ASSERT_EQ(run_r1("tasks countdown --n 3 --split test --out " + data).code, 0);
  r = run_r1("eval --data " + data + " --task countdown -k 2 -n 8 --out " + data + ".run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("pass@1"), std::string::npos) << r.out;
}

}  // namespace
