// One verifier interface for every task: the benchmark scorer of `r1 eval` and the accuracy reward
// of RL (nanochat's Task.evaluate; STYLE.md). A verifier reads the completion the way the task's
// protocol says (docs/FACTS.md section 7), never throws for a bad completion (a completion is
// untrusted data: it just scores 0), and is safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "eval/problem.h"
#include "eval/sandbox.h"

namespace r1::eval {

struct Verdict {
  double score = 0;  // the reward: 1 when correct, else 0
  bool correct = false;
  std::string extracted;  // the answer read from the completion (code: the program); "" if none
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  virtual Verdict evaluate(const Problem& problem, std::string_view completion) const = 0;
  // Whether two extracted answers are the same answer, for majority voting (cons@k).
  virtual bool same_answer(std::string_view a, std::string_view b) const { return a == b; }
};

struct VerifierOptions {
  // math / aime / gsm8k: use the extraction fallbacks after \boxed (math_answer.h).
  bool answer_fallbacks = true;
  // All tasks: a completion without "</think>" (reasoning cut off by the length limit) has no
  // answer. Off by default, as in lighteval/Math-Verify, which search the whole completion then.
  bool require_think_end = false;
  // code: limits of each run and the interpreters used.
  SandboxLimits sandbox;
  std::string python = "/usr/bin/python3";
  std::string cxx = "/usr/bin/g++";
};

// Tasks: "math" (MATH-500 and other \boxed answers), "aime" (AIME/AMC: the same grader; integer
// answers with leading zeros compare as numbers), "gsm8k", "gpqa", "code". An unknown task is a
// Usage error.
// code: the program (extract_code_block) runs in the sandbox (sandbox.h) on every test and all
// must pass. stdin tests: output compared line by line, trailing whitespace and trailing blank
// lines ignored; C++ is first compiled with g++ -O2 -std=c++17, also in the sandbox.
// Functional (LiveCodeBench function-call) tests: Python only; a harness calls
// Solution().<entry_point>(*args) with one JSON argument per input line and compares the JSON
// result with the expected JSON as values.
std::unique_ptr<Verifier> make_verifier(std::string_view task, const VerifierOptions& options = {});

// GSM8K answer extraction: the last \boxed{}, else the number after the last "####", else the
// last number of the answer part.
std::string extract_gsm8k_answer(std::string_view completion);

// simple-evals multiple-choice extraction: the FIRST match of
// (?i)Answer[ \t]*:[ \t]*\$?([A-D])\$? after the reasoning, upper-cased; "" when none.
std::string extract_choice_letter(std::string_view completion);

// The program of a code answer: the last ```python / ```py / ```cpp / ```c++ block after the
// reasoning. `language` is set to "python" or "cpp"; empty result when there is none.
std::string extract_code_block(std::string_view completion, std::string* language);

}  // namespace r1::eval
