// Countdown problems (TinyZero's task): a few numbers and a target that some of them reach with
// + - * / (each number at most once), graded by eval/countdown.h. Each problem is made by drawing
// the numbers and combining a random subset of them step by step (never below zero, divisions
// only when exact), so it always has the solution kept with it.
//
// Difficulty: the count of numbers (--numbers, 2 to 6) and their range (--max-number); targets
// stay in [1, max_target]. Splits by hash as the arithmetic task: a problem is in the test split
// iff fnv1a64(canonical) % 10 == 0, canonical = "countdown:" + sorted numbers + ":" + target.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tasks/arithmetic.h"

namespace r1::tasks {

struct CountdownOptions {
  uint64_t seed = 0;
  Split split = Split::Train;
  int numbers = 4;           // how many numbers each problem gives
  int64_t max_number = 50;   // numbers are drawn from [1, max_number]
  int64_t max_target = 200;  // targets are in [1, max_target]
  bool distinct = false;     // no two problems with the same canonical form
};

struct CountdownProblem {
  std::vector<int64_t> numbers;
  int64_t target = 0;
  std::string canonical;
  std::vector<std::string> steps;  // "25 - 7 = 18", "18 * 3 = 54": the known solution, in order
  std::string equation;            // the same as one expression, "(25 - 7) * 3"
};

std::vector<CountdownProblem> generate_countdown(size_t n, const CountdownOptions& options);

// JSONL rows. eval: {"numbers", "target", "id"} (what `r1 eval --task countdown` reads).
// sft: {"messages": [user: the prompt, assistant: "<think>\nSTEPS\n</think>\n\n\boxed{EQ}"],
// "numbers", "target"}.
std::string countdown_eval_row(const CountdownProblem& p);
std::string countdown_sft_row(const CountdownProblem& p);

}  // namespace r1::tasks
