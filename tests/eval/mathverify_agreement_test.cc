// The grader against Math-Verify's own test suite (tests/fixtures/grader/mathverify_cases.jsonl,
// built by tools/grader/mathverify_cases.py): every case agrees with Math-Verify's expected
// verdict except those listed, with the reason, in tests/fixtures/grader/differences.jsonl; and
// no listed difference is r1 accepting what Math-Verify rejects.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/math_answer.h"
#include "eval/math_equiv.h"
#include "read_jsonl.h"

namespace r1::eval {
namespace {

using testing::read_jsonl;

// r1's verdict on one case, the way `r1 eval` grades: the gold solution's answer against the
// answer extracted from the prediction.
bool grade(const nlohmann::json& c) {
  MathGradeOptions options;
  options.precision = c.at("precision").get<int>();
  options.relation_matches_set = c.at("allow_set_relation_comp").get<bool>();
  options.strict = c.at("strict").get<bool>();
  ExtractOptions targets;  // Math-Verify's match_types: which extractors the case runs
  targets.latex = targets.plain_numbers = false;
  for (const auto& m : c.at("match_types")) {
    if (m == "latex") targets.latex = true;
    if (m == "expr") targets.plain_numbers = true;
  }
  ExtractedAnswer pred = extract_math_answer(c.at("pred").get<std::string>(), targets);
  if (pred.source == AnswerSource::None) return false;
  return math_answers_equal(gold_math_answer(c.at("gold").get<std::string>()).text, pred.text,
                            options);
}

TEST(MathVerifyAgreement, MatchesExpectedVerdictsExceptListedDifferences) {
  const std::string dir = std::string(R1_SOURCE_DIR) + "/tests/fixtures/grader/";
  auto cases = read_jsonl(dir + "mathverify_cases.jsonl");
  ASSERT_GE(cases.size(), 250u);
  std::map<std::string, std::string> listed;
  for (const auto& d : read_jsonl(dir + "differences.jsonl"))
    listed[d.at("id").get<std::string>()] = d.at("reason").get<std::string>();
  size_t agree = 0;
  for (const auto& c : cases) {
    const std::string id = c.at("id").get<std::string>();
    bool expected = c.at("expected").get<int>() == 1;
    bool got = grade(c);
    if (got == expected) ++agree;
    if (listed.count(id)) {
      EXPECT_NE(got, expected) << id << " is listed as a difference but now agrees";
      EXPECT_FALSE(got && !expected) << id << ": a listed difference may not be a false positive";
      listed.erase(id);
    } else {
      EXPECT_EQ(got, expected) << id
                               << "\n  gold: " << c.at("gold").get<std::string>().substr(0, 300)
                               << "\n  pred: " << c.at("pred").get<std::string>().substr(0, 300);
    }
  }
  for (const auto& [id, reason] : listed)
    ADD_FAILURE() << "listed difference " << id << " is not a case";
  double rate = 100.0 * static_cast<double>(agree) / static_cast<double>(cases.size());
  std::printf("agreement with Math-Verify's test suite: %zu/%zu = %.1f%%\n", agree, cases.size(),
              rate);
  EXPECT_GE(rate, 97.0);
}

}  // namespace
}  // namespace r1::eval
