// One problem of an evaluation set, whatever its source format (loaders.h), and what a verifier
// (verifier.h) needs to grade a completion for it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace r1::eval {

// A test of a program: stdin/stdout, or (functional) a LiveCodeBench function-call test whose
// input holds one JSON argument per line and whose output is the JSON of the return value.
struct TestCase {
  std::string input;
  std::string output;
  bool functional = false;
};

struct Problem {
  std::string id;      // from the file (unique_id, id, Record ID, question_id) or "line N"
  std::string task;    // "math", "gsm8k", "aime", "gpqa", "code" or "countdown"
  std::string prompt;  // the user turn shown to the model (GPQA: with the shuffled choices)
  std::string answer;  // gold: a math answer, a GSM8K number, a GPQA letter A-D; empty for code
  std::vector<std::string> choices;  // GPQA: the four options in the order shown (A, B, C, D)
  std::vector<TestCase> tests;       // code: tests that must all pass
  std::string entry_point;       // code with functional tests: the method of class Solution to call
  std::vector<int64_t> numbers;  // countdown: the numbers to combine (answer: the target)
};

}  // namespace r1::eval
