// One problem of an evaluation set, whatever its source format (loaders.h), and what a verifier
// (verifier.h) needs to grade a completion for it.
#pragma once

#include <string>
#include <vector>

namespace r1::eval {

// A stdin/stdout test of a program. `functional` marks LiveCodeBench function-call tests, which
// the code verifier does not run (they need a per-problem harness).
struct TestCase {
  std::string input;
  std::string output;
  bool functional = false;
};

struct Problem {
  std::string id;      // from the file (unique_id, id, Record ID, question_id) or "line N"
  std::string task;    // "math", "gsm8k", "aime", "gpqa" or "code"
  std::string prompt;  // the user turn shown to the model (GPQA: with the shuffled choices)
  std::string answer;  // gold: a math answer, a GSM8K number, a GPQA letter A-D; empty for code
  std::vector<std::string> choices;  // GPQA: the four options in the order shown (A, B, C, D)
  std::vector<TestCase> tests;       // code: tests that must all pass
};

}  // namespace r1::eval
