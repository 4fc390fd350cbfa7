// Loaders on the real data files and on broken rows.
#include "eval/loaders.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <set>

#include "../common/temp_path.h"
#include "core/error.h"

namespace r1::eval {
namespace {

const std::string kData = std::string(R1_SOURCE_DIR) + "/data/";
const std::string kFixtures = std::string(R1_SOURCE_DIR) + "/tests/fixtures/eval/";

// Writes text to a fresh temp file with the given extension and returns its path.
std::string temp_file(const std::string& text, const std::string& ext) {
  static int counter = 0;
  const std::string path =
      r1::testing::removed_at_exit("/tmp/r1_eval_loader_" + std::to_string(getpid()) + "_" +
                                   std::to_string(counter++) + "." + ext);
  std::ofstream(path) << text;
  return path;
}

// The Input error message of f(), or "" when it did not throw one.
template <typename F>
std::string input_error(F f) {
  try {
    f();
  } catch (const r1::Error& e) {
    EXPECT_EQ(e.kind(), r1::ErrorKind::Input);
    return e.what();
  }
  return "";
}

TEST(Loaders, RealMath500) {
  auto p = load_math500(kData + "math500.jsonl");
  ASSERT_EQ(p.size(), 500u);
  EXPECT_EQ(p[0].task, "math");
  EXPECT_EQ(p[0].id, "test/precalculus/807.json");
  EXPECT_EQ(p[0].answer, "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_NE(p[0].prompt.find("Convert the point"), std::string::npos);
  EXPECT_NE(p[0].prompt.find("\\boxed{}"), std::string::npos);
}

TEST(Loaders, RealAimeAndAmc) {
  auto aime = load_aime(kData + "aime24.jsonl");
  ASSERT_EQ(aime.size(), 30u);
  EXPECT_EQ(aime[0].answer, "204");
  EXPECT_EQ(aime[0].id, "60");
  auto amc = load_aime(kData + "amc23.jsonl");
  ASSERT_EQ(amc.size(), 40u);
  EXPECT_EQ(amc[0].answer, "27");  // stored as the number 27.0
  for (const auto& p : amc) EXPECT_EQ(p.task, "aime");
}

TEST(Loaders, RealGsm8k) {
  auto p = load_gsm8k(kData + "gsm8k_test.jsonl");
  ASSERT_EQ(p.size(), 1319u);
  EXPECT_EQ(p[0].answer, "18");
  EXPECT_EQ(p[2].answer, "70000");
  EXPECT_EQ(gsm8k_gold("so 1,450,000 total\n#### 1,450,000"), "1450000");
  EXPECT_EQ(gsm8k_gold("42"), "42");
}

TEST(Loaders, BrokenJsonRowNamesFileAndLine) {
  std::string path = temp_file(
      "{\"problem\": \"a\", \"answer\": \"1\"}\n\n{\"problem\": \"b\", \"answer\": \n", "jsonl");
  std::string msg = input_error([&] { load_math500(path); });
  EXPECT_NE(msg.find(path + ":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid JSON"), std::string::npos) << msg;
}

TEST(Loaders, MissingOrMistypedFieldNamesLine) {
  std::string path =
      temp_file("{\"problem\": \"a\", \"answer\": \"1\"}\n{\"problem\": \"b\"}\n", "jsonl");
  std::string msg = input_error([&] { load_math500(path); });
  EXPECT_NE(msg.find(":2: missing field \"answer\""), std::string::npos) << msg;
  path = temp_file("{\"problem\": 5, \"answer\": \"1\"}\n", "jsonl");
  msg = input_error([&] { load_aime(path); });
  EXPECT_NE(msg.find(":1: field \"problem\" must be a string"), std::string::npos) << msg;
  path = temp_file("{\"question\": \"q\", \"answer\": \"no marker\"}\n", "jsonl");
  msg = input_error([&] { load_gsm8k(path); });
  EXPECT_NE(msg.find(":1: the answer has no \"#### N\""), std::string::npos) << msg;
  path = temp_file("[1, 2]\n", "jsonl");
  msg = input_error([&] { load_gsm8k(path); });
  EXPECT_NE(msg.find(":1: a row must be a JSON object"), std::string::npos) << msg;
  msg = input_error([&] { load_gsm8k("/nonexistent/file.jsonl"); });
  EXPECT_NE(msg.find("/nonexistent/file.jsonl"), std::string::npos) << msg;
}

TEST(Loaders, GpqaCsvShuffleIsSeededAndKeepsTheAnswer) {
  auto a = load_gpqa(kFixtures + "gpqa_sample.csv", 0);
  auto b = load_gpqa(kFixtures + "gpqa_sample.csv", 0);
  ASSERT_EQ(a.size(), 3u);
  std::set<std::string> orders;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].choices, b[i].choices);  // reproducible
    ASSERT_EQ(a[i].choices.size(), 4u);
    ASSERT_EQ(a[i].answer.size(), 1u);
    int k = a[i].answer[0] - 'A';
    ASSERT_TRUE(k >= 0 && k < 4);
    const std::string correct[] = {"4", "right", "Nitrogen"};
    EXPECT_EQ(a[i].choices[k], correct[i]);
    EXPECT_NE(a[i].prompt.find(std::string(1, a[i].answer[0]) + ") " + correct[i]),
              std::string::npos);
    EXPECT_NE(a[i].prompt.find("'Answer: $LETTER'"), std::string::npos);
    std::string order;
    for (auto& c : a[i].choices) order += c + "|";
    orders.insert(order);
  }
  EXPECT_EQ(a[0].id, "rec1");
  EXPECT_NE(a[1].prompt.find("a \"quote\" and\na second line?"), std::string::npos);
  // The documented algorithm, replayed here: mt19937_64(0), Fisher-Yates from the end.
  std::mt19937_64 rng(0);
  for (size_t i = 0; i < a.size(); ++i) {
    int order[4] = {0, 1, 2, 3};
    for (int j = 3; j > 0; --j) std::swap(order[j], order[rng() % (j + 1)]);
    int shown_correct = 0;
    for (int k = 0; k < 4; ++k)
      if (order[k] == 0) shown_correct = k;
    EXPECT_EQ(a[i].answer[0], 'A' + shown_correct);
  }
  // another seed gives another order for at least one row
  auto c = load_gpqa(kFixtures + "gpqa_sample.csv", 12345);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs = differs || a[i].choices != c[i].choices;
  EXPECT_TRUE(differs);
}

TEST(Loaders, GpqaJsonlAndBrokenCsv) {
  std::string path = temp_file(
      "{\"Question\": \"q\", \"Correct Answer\": \"yes\", \"Incorrect Answer 1\": \"n1\", "
      "\"Incorrect Answer 2\": \"n2\", \"Incorrect Answer 3\": \"n3\"}\n",
      "jsonl");
  auto p = load_gpqa(path);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].choices[p[0].answer[0] - 'A'], "yes");

  std::string header =
      "Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n";
  std::string msg = input_error(
      [&] { load_gpqa(temp_file(header + "q1,a,b,c,d\n\"q2 never closed,a,b,c,d\n", "csv")); });
  EXPECT_NE(msg.find(":3: unterminated quoted field"), std::string::npos) << msg;
  msg = input_error([&] { load_gpqa(temp_file(header + "q1,a,b,c,d\nq2,a,b\n", "csv")); });
  EXPECT_NE(msg.find(":3: 3 fields, the header has 5"), std::string::npos) << msg;
  msg = input_error([&] { load_gpqa(temp_file("Question,Correct Answer\nq,a\n", "csv")); });
  EXPECT_NE(msg.find("no column \"Incorrect Answer 1\""), std::string::npos) << msg;
  msg = input_error([&] { load_gpqa(temp_file(header + "q1,a,,c,d\n", "csv")); });
  EXPECT_NE(msg.find(":2: empty \"Incorrect Answer 1\""), std::string::npos) << msg;
}

TEST(Loaders, LiveCodeBench) {
  auto p = load_livecodebench(kFixtures + "lcb_sample.jsonl");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].id, "sum2");
  ASSERT_EQ(p[0].tests.size(), 2u);
  EXPECT_EQ(p[0].tests[1].input, "10 -4\n");
  EXPECT_EQ(p[0].tests[1].output, "6\n");
  EXPECT_FALSE(p[0].tests[0].functional);
  EXPECT_TRUE(p[1].tests[0].functional);
  EXPECT_NE(p[1].prompt.find("class Solution"), std::string::npos);
  EXPECT_EQ(p[0].entry_point, "");
  EXPECT_EQ(p[1].entry_point, "f");

  std::string msg = input_error([&] {
    load_livecodebench(temp_file(
        "{\"question_content\": \"q\", \"public_test_cases\": \"[{\\\"input\\\": 1\"}\n", "jsonl"));
  });
  EXPECT_NE(msg.find(":1: public_test_cases is not valid JSON"), std::string::npos) << msg;
  msg = input_error([&] {
    load_livecodebench(
        temp_file("{\"question_content\": \"q\", \"public_test_cases\": []}\n", "jsonl"));
  });
  EXPECT_NE(msg.find(":1: no public test cases"), std::string::npos) << msg;
  msg = input_error([&] {
    load_livecodebench(temp_file(
        R"({"question_content": "q", "public_test_cases": [{"input": "1", "output": "2", )"
        R"("testtype": "functional"}]})"
        "\n",
        "jsonl"));
  });
  EXPECT_NE(msg.find(":1: functional tests need a starter_code"), std::string::npos) << msg;
}

TEST(Loaders, DispatchByTask) {
  EXPECT_EQ(load_problems(kData + "aime24.jsonl", "aime").size(), 30u);
  EXPECT_THROW(load_problems(kData + "aime24.jsonl", "chess"), r1::Error);
}

}  // namespace
}  // namespace r1::eval
