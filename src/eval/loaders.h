// Loaders for the evaluation sets in data/ and the public GPQA / LiveCodeBench formats,
// all into Problem. A row that cannot be read (bad JSON, a missing or mistyped field, a broken
// CSV record) is an Input error naming the file and the line number; no row is skipped silently.
// Blank lines in JSONL files are not rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/problem.h"

namespace r1::eval {

// The R1 math instruction (docs/FACTS.md section 4), appended to math, GSM8K and AIME prompts.
inline constexpr const char* kMathInstruction =
    "Please reason step by step, and put your final answer within \\boxed{}.";

// MATH-500: {"problem", "answer", "unique_id"?}. task "math".
std::vector<Problem> load_math500(const std::string& path);
// AIME / AMC: {"problem", "answer" (string such as "025" or number such as 27.0), "id"?}.
// A whole-number answer is kept as an integer string ("27.0" -> "27"). task "aime".
std::vector<Problem> load_aime(const std::string& path);
// GSM8K: {"question", "answer" (a worked solution ending in "#### N")}; the gold is N with
// thousands commas removed. task "gsm8k".
std::vector<Problem> load_gsm8k(const std::string& path);
// The gold number of a GSM8K answer: the text after the last "####", commas removed; the whole
// text when there is no "####".
std::string gsm8k_gold(const std::string& answer);

// Countdown: {"numbers": [integers], "target": integer, "id"?} (other fields allowed); the prompt
// is countdown_prompt (countdown.h). task "countdown".
std::vector<Problem> load_countdown(const std::string& path);

// GPQA (Diamond) as CSV (the published gpqa_diamond.csv, RFC 4180 quoting) or JSONL, with the
// columns "Question", "Correct Answer", "Incorrect Answer 1".."Incorrect Answer 3" (and
// "Record ID" when present). The four options are shuffled as simple-evals does, with one RNG
// stream over the rows in file order: std::mt19937_64 seeded with `seed`; for each row the
// options [correct, incorrect 1, 2, 3] are permuted by Fisher-Yates from the last position down,
// j = rng() % (i + 1) for i = 3, 2, 1. std::mt19937_64 is fully specified by the C++ standard, so
// the order is the same on every platform. Option texts are trimmed. task "gpqa".
std::vector<Problem> load_gpqa(const std::string& path, uint64_t seed = 0);
// The simple-evals multiple-choice prompt for a question and four options.
std::string gpqa_prompt(const std::string& question, const std::vector<std::string>& choices);

// LiveCodeBench JSONL: {"question_content", "public_test_cases" (a JSON string, or an array, of
// {"input", "output", "testtype": "stdin" | "functional"}), "question_id"?, "starter_code"?}.
// Functional tests need starter_code; its first "def NAME" becomes Problem::entry_point.
// private_test_cases (compressed in the release files) are not read. task "code".
std::vector<Problem> load_livecodebench(const std::string& path);

// Dispatches on the task name: math, gsm8k, aime, gpqa, code.
std::vector<Problem> load_problems(const std::string& path, const std::string& task);

}  // namespace r1::eval
