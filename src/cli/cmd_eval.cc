// r1 eval: evaluation with R1's protocol (docs/FACTS.md section 7).
//
// `r1 eval extract` prints the math answers it finds in completions or gold solutions.
// `r1 eval grade [--task T]` grades given responses, for scripting: each stdin line is a JSON
// object {"gold", "response"[, "task"]} and gives one stdout line {"correct", "extracted"}, in
// order. "gold" is the reference answer (math/aime: a LaTeX answer; gsm8k: the number or the
// worked solution ending in "#### N"; gpqa: the letter A-D); for task "code" the line holds
// "tests": [{"input", "output"}, ...] instead, run in the sandbox. "task" overrides --task
// (default math). Blank lines are skipped; a bad line stops the run with an error naming its line
// number (exit code 2), after the lines before it were answered.
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/command.h"
#include "cli/eval_run.h"
#include "core/error.h"
#include "eval/math_answer.h"
#include "eval/problem.h"
#include "eval/verifier.h"

namespace r1::cli {
namespace {

using nlohmann::json;

const char* const kTasks[] = {"math", "aime", "gsm8k", "gpqa", "code", "countdown"};

bool known_task(const std::string& t) {
  for (const char* k : kTasks)
    if (t == k) return true;
  return false;
}

// One input line of `r1 eval grade` as a Problem plus the response to grade.
eval::Problem grade_problem(const json& in, const std::string& default_task,
                            const std::string& where) {
  if (!in.is_object()) fail_input(where, ": expected a JSON object");
  eval::Problem p;
  p.task = default_task;
  if (in.contains("task")) {
    if (!in["task"].is_string()) fail_input(where, ": \"task\" must be a string");
    p.task = in["task"].get<std::string>();
    if (!known_task(p.task))
      fail_input(where, ": unknown task \"", p.task,
                 "\" (expected math, aime, gsm8k, gpqa, code or countdown)");
  }
  if (p.task == "countdown") {
    const json& nums = in.contains("numbers") ? in["numbers"] : json();
    if (!nums.is_array() || nums.empty() || nums.size() > 16)
      fail_input(where, ": task countdown needs \"numbers\": a list of 1 to 16 integers");
    for (const json& x : nums) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > 1000000)
        fail_input(where, ": countdown numbers are integers in [0, 1000000]");
      p.numbers.push_back(x.get<int64_t>());
    }
    if (!in.contains("target") || !in["target"].is_number_integer() ||
        std::llabs(in["target"].get<int64_t>()) > 1000000000)
      fail_input(where, ": task countdown needs an integer \"target\"");
    p.answer = std::to_string(in["target"].get<int64_t>());
  } else if (p.task == "code") {
    if (!in.contains("tests") || !in["tests"].is_array() || in["tests"].empty())
      fail_input(where, ": task code needs \"tests\": [{\"input\", \"output\"}, ...]");
    for (const json& t : in["tests"]) {
      if (!t.is_object() || !t.contains("input") || !t.contains("output") ||
          !t["input"].is_string() || !t["output"].is_string())
        fail_input(where, ": each test needs string \"input\" and \"output\"");
      p.tests.push_back({t["input"].get<std::string>(), t["output"].get<std::string>(), false});
    }
  } else {
    if (!in.contains("gold")) fail_input(where, ": missing \"gold\"");
    const json& gold = in["gold"];
    if (gold.is_string()) {
      p.answer = gold.get<std::string>();
    } else if (gold.is_number()) {
      p.answer = gold.is_number_float() ? json(gold.get<double>()).dump() : gold.dump();
    } else {
      fail_input(where, ": \"gold\" must be a string or a number");
    }
    if (p.task == "gpqa" && (p.answer.size() != 1 || p.answer[0] < 'A' || p.answer[0] > 'D'))
      fail_input(where, ": a gpqa gold answer is one letter A-D, not \"", p.answer, "\"");
  }
  return p;
}

// Calls fn(line, "stdin line N") for each non-blank stdin line (a JSON value) and prints the
// JSON object it returns on its own line, flushed. A line that is not JSON is an input error.
template <typename Fn>
void for_each_stdin_json(Fn fn) {
  std::string line;
  for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = "stdin line " + std::to_string(line_no);
    json in;
    try {
      in = json::parse(line);
    } catch (const json::exception& e) {
      fail_input(where, ": not valid JSON: ", e.what());
    }
    json out = fn(in, where);
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
  }
}

int run_grade(Args& args) {
  std::string task = args.take_str("--task", "math");
  args.finish();
  if (!known_task(task))
    fail_usage("unknown task \"", task, "\" (expected math, aime, gsm8k, gpqa or code)");
  std::map<std::string, std::unique_ptr<eval::Verifier>> verifiers;
  for_each_stdin_json([&](const json& in, const std::string& where) {
    eval::Problem problem = grade_problem(in, task, where);
    if (!in.contains("response") || !in["response"].is_string())
      fail_input(where, ": \"response\" must be a string");
    auto& verifier = verifiers[problem.task];
    if (!verifier) verifier = eval::make_verifier(problem.task);
    eval::Verdict v = verifier->evaluate(problem, in["response"].get<std::string>());
    json out = {{"correct", v.correct}, {"extracted", v.extracted}};
    if (problem.task == "countdown") out["reward"] = v.score;  // 1, 0.1 (well formed) or 0
    return out;
  });
  return 0;
}

// `r1 eval extract`: the math answer extraction on its own (eval/math_answer.h).
int run_extract(Args& args) {
  bool boxed_only = args.take_bool("--boxed-only");
  args.finish();
  for_each_stdin_json([&](const json& in, const std::string& where) {
    bool response = in.is_object() && in.contains("response") && in["response"].is_string();
    bool gold = in.is_object() && in.contains("gold") && in["gold"].is_string();
    if (response == gold)
      fail_input(where,
                 ": expected an object with a string \"response\" or \"gold\" (one of them)");
    eval::ExtractedAnswer e =
        response ? eval::extract_math_answer(in["response"].get<std::string>(), !boxed_only)
                 : eval::gold_math_answer(in["gold"].get<std::string>());
    json out = {{"extracted", e.text},
                {"answers", e.parts},
                {"source", eval::answer_source_name(e.source)},
                {"normalized", eval::normalize_math_answer(e.text)}};
    return out;
  });
  return 0;
}

int run_eval(Args& args) {
  auto words = args.take_positional();
  if (!words.empty() && (words[0] == "grade" || words[0] == "extract")) {
    if (words.size() > 1) fail_usage("unexpected argument \"", words[1], "\"");
    return words[0] == "grade" ? run_grade(args) : run_extract(args);
  }
  if (!words.empty())
    fail_usage("unexpected argument \"", words[0], "\" (did you mean `r1 eval grade`?)");
  return run_eval_model(args);
}

R1_COMMAND(
    {"eval",
     "evaluate with R1's protocol: run a model (eval -m), grade responses (eval grade) or "
     "extract their answers (eval extract)",
     "usage: r1 eval grade [--task math|aime|gsm8k|gpqa|code|countdown]\n"
     "  stdin: JSONL {\"gold\", \"response\"[, \"task\"]} (code: \"tests\" instead of "
     "\"gold\";\n"
     "         countdown: \"numbers\" and \"target\")\n"
     "  stdout: JSONL {\"correct\", \"extracted\"} (countdown also \"reward\": 1, 0.1 or 0), one\n"
     "          line per input line\n"
     "\n"
     "or:    r1 eval extract [--boxed-only]\n"
     "  stdin: JSONL {\"response\"} (a completion) or {\"gold\"} (a gold solution or answer)\n"
     "  stdout: JSONL {\"extracted\", \"answers\" (several when the answer has several parts),\n"
     "          \"source\" (boxed, answer_tag, phrase, math_span, last_number or none),\n"
     "          \"normalized\"}\n"
     "\n"
     "or:    r1 eval -m MODEL --data FILE --task math|aime|gsm8k|gpqa|code|countdown -k N [flags]\n"
     "  --data FILE          MATH-500 / AIME / AMC / GSM8K / GPQA / LiveCodeBench file, or\n"
     "                       a bundled set (data/): math500, aime24, amc23, gsm8k (its task\n"
     "                       is then the default)\n"
     "  -k N                 samples per problem (default 1)\n"
     "  --out DIR            run folder (default eval-TASK-FILE); a rerun resumes it\n"
     "  --limit N            only the first N problems\n"
     "  -n, --max-tokens N   tokens per sample at most (default 32768, R1's limit)\n"
     "  --batch B            sequences decoding at once (default 16)\n"
     "  --prompt-style S     chat (default: the model's chat template) or r1-zero (R1-Zero's\n"
     "                       plain-text template, for base models)\n",
     {"--mmap", "--no-mmap", "--fast-bf16", "--exact", "--boxed-only"},
     run_eval,
     kModelFlags | kSamplingFlags});

}  // namespace
}  // namespace r1::cli
