#include "eval/verifier.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "eval/countdown.h"
#include "eval/loaders.h"
#include "eval/math_answer.h"
#include "eval/math_equiv.h"

namespace r1::eval {

namespace {

Verdict verdict(bool correct, std::string extracted) {
  return {correct ? 1.0 : 0.0, correct, std::move(extracted)};
}

// math and aime: the last \boxed answer (with fallbacks) against the gold answer.
class MathVerifier : public Verifier {
 public:
  explicit MathVerifier(bool fallbacks) : fallbacks_(fallbacks) {}
  Verdict evaluate(const Problem& problem, std::string_view completion) const override {
    auto e = extract_math_answer(completion, fallbacks_);
    if (e.source == AnswerSource::None) return verdict(false, "");
    return verdict(math_answers_equal(gold_math_answer(problem.answer).text, e.text), e.text);
  }
  bool same_answer(std::string_view a, std::string_view b) const override {
    return math_answers_equal(a, b);
  }

 private:
  bool fallbacks_;
};

class Gsm8kVerifier : public Verifier {
 public:
  Verdict evaluate(const Problem& problem, std::string_view completion) const override {
    std::string extracted = extract_gsm8k_answer(completion);
    if (extracted.empty()) return verdict(false, "");
    return verdict(math_answers_equal(gsm8k_gold(problem.answer), extracted), extracted);
  }
  bool same_answer(std::string_view a, std::string_view b) const override {
    return math_answers_equal(a, b);
  }
};

class ChoiceVerifier : public Verifier {
 public:
  Verdict evaluate(const Problem& problem, std::string_view completion) const override {
    std::string letter = extract_choice_letter(completion);
    return verdict(!letter.empty() && letter == problem.answer, letter);
  }
};

// Program output equality as LiveCodeBench checks it: line by line, trailing whitespace of each
// line and trailing blank lines ignored.
std::vector<std::string> output_lines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    std::string line(s.substr(start, end - start));
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

// The driver of LiveCodeBench function-call tests: the solution is executed with the imports
// LiveCodeBench puts before solutions, then Solution().<argv[1]>(*args) is called with one JSON
// argument per stdin line and its result printed as JSON. It runs inside the sandbox too.
constexpr const char* kFunctionalHarness = R"py(import json, sys
from typing import *
from collections import *
from heapq import *
from itertools import *
from functools import *
from bisect import *
from math import *
import collections, heapq, itertools, functools, bisect, math, string, re, random
sys.setrecursionlimit(100000)
exec(compile(open('main.py').read(), 'main.py', 'exec'), globals())
args = [json.loads(line) for line in sys.stdin.read().split('\n') if line.strip()]
result = getattr(Solution(), sys.argv[1])(*args)
print(json.dumps(result))
)py";

// Compares JSON texts as values (1 and 1.0 are equal); texts that are not JSON compare trimmed.
bool same_json(const std::string& got, const std::string& want) {
  auto g = nlohmann::json::parse(got, nullptr, false);
  auto w = nlohmann::json::parse(want, nullptr, false);
  if (g.is_discarded() || w.is_discarded()) return output_lines(got) == output_lines(want);
  return g == w;
}

// A sandbox that could not run the program says nothing about the completion: that is an error of
// this machine (no namespaces, no compiler), reported as such, never a wrong answer.
SandboxResult checked(SandboxResult r) {
  if (!r.started) fail_input("code sandbox: ", r.error);
  return r;
}

class CodeVerifier : public Verifier {
 public:
  explicit CodeVerifier(const VerifierOptions& o) : options_(o) {}

  Verdict evaluate(const Problem& problem, std::string_view completion) const override {
    std::string language;
    std::string code = extract_code_block(completion, &language);
    if (code.empty() || problem.tests.empty()) return verdict(false, code);
    bool functional = std::any_of(problem.tests.begin(), problem.tests.end(),
                                  [](const TestCase& t) { return t.functional; });
    if (functional) return verdict(run_functional(problem, code, language), code);
    std::vector<SandboxFile> files;
    std::vector<std::string> argv;
    if (language == "cpp") {
      SandboxLimits compile = options_.sandbox;
      compile.cpu_seconds = std::max(compile.cpu_seconds, 30.0);
      compile.wall_seconds = std::max(compile.wall_seconds, 60.0);
      compile.memory_bytes = std::max<uint64_t>(compile.memory_bytes, 4ull << 30);
      compile.disk_bytes = std::max<uint64_t>(compile.disk_bytes, 256ull << 20);
      compile.output_bytes = std::max<uint64_t>(compile.output_bytes, 64ull << 20);
      // A run's /work ends with it, so the compiler's output comes back on stdout.
      auto built = checked(run_sandboxed(
          {"/bin/sh", "-c", "\"$0\" -O2 -std=c++17 -o main main.cpp >&2 && exec cat main",
           options_.cxx},
          "", {{"main.cpp", code}}, compile));
      if (!built.ok()) return verdict(false, code);
      files = {{"main", built.out, true}};
      argv = {"/work/main"};
    } else {
      files = {{"main.py", code}};
      argv = {options_.python, "-I", "main.py"};
    }
    for (const auto& t : problem.tests) {
      auto run = checked(run_sandboxed(argv, t.input, files, options_.sandbox));
      if (!run.ok() || output_lines(run.out) != output_lines(t.output)) return verdict(false, code);
    }
    return verdict(true, code);
  }

 private:
  VerifierOptions options_;

  bool run_functional(const Problem& problem, const std::string& code,
                      const std::string& language) const {
    if (language != "python" || problem.entry_point.empty()) return false;
    for (const auto& t : problem.tests)
      if (!t.functional) return false;  // a mix of test kinds is not a LiveCodeBench problem
    const std::vector<SandboxFile> files = {{"main.py", code}, {"harness.py", kFunctionalHarness}};
    for (const auto& t : problem.tests) {
      auto run = checked(run_sandboxed({options_.python, "-I", "harness.py", problem.entry_point},
                                       t.input, files, options_.sandbox));
      if (!run.ok() || !same_json(run.out, t.output)) return false;
    }
    return true;
  }
};

// Countdown: the equation is parsed and evaluated exactly (countdown.h); TinyZero's reward.
class CountdownVerifier : public Verifier {
 public:
  Verdict evaluate(const Problem& problem, std::string_view completion) const override {
    const CountdownGrade g =
        grade_countdown(completion, problem.numbers, std::stoll(problem.answer));
    Verdict v;
    v.score = g.reward;
    v.correct = g.reward == 1.0;
    v.extracted = g.equation;
    return v;
  }
};

// VerifierOptions::require_think_end around any verifier.
class ThinkEndRequired : public Verifier {
 public:
  explicit ThinkEndRequired(std::unique_ptr<Verifier> inner) : inner_(std::move(inner)) {}
  Verdict evaluate(const Problem& problem, std::string_view completion) const override {
    if (completion.find("</think>") == std::string_view::npos) return verdict(false, "");
    return inner_->evaluate(problem, completion);
  }
  bool same_answer(std::string_view a, std::string_view b) const override {
    return inner_->same_answer(a, b);
  }

 private:
  std::unique_ptr<Verifier> inner_;
};

std::unique_ptr<Verifier> make_plain_verifier(std::string_view task,
                                              const VerifierOptions& options) {
  if (task == "math" || task == "aime")
    return std::make_unique<MathVerifier>(options.answer_fallbacks);
  if (task == "gsm8k") return std::make_unique<Gsm8kVerifier>();
  if (task == "gpqa") return std::make_unique<ChoiceVerifier>();
  if (task == "code") return std::make_unique<CodeVerifier>(options);
  if (task == "countdown") return std::make_unique<CountdownVerifier>();
  fail_usage("unknown task \"", task, "\" (expected math, gsm8k, aime, gpqa, code or countdown)");
}

bool is_space_or_tab(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

std::string extract_gsm8k_answer(std::string_view completion) {
  std::string_view text = strip_reasoning(completion);
  if (auto boxed = last_boxed(text); !boxed.empty()) return boxed;
  if (size_t p = text.rfind("####"); p != std::string_view::npos) {
    auto num = last_number(text.substr(p + 4, text.find('\n', p) - p));
    if (!num.empty()) return num;
  }
  return last_number(text);
}

std::string extract_choice_letter(std::string_view completion) {
  std::string_view text = strip_reasoning(completion);
  for (size_t i = 0; i + 6 <= text.size(); ++i) {
    static constexpr std::string_view kWord = "answer";
    bool match = true;
    for (size_t k = 0; k < kWord.size() && match; ++k)
      match = std::tolower(static_cast<unsigned char>(text[i + k])) == kWord[k];
    if (!match) continue;
    size_t j = i + kWord.size();
    while (j < text.size() && is_space_or_tab(text[j])) ++j;
    if (j >= text.size() || text[j] != ':') continue;
    ++j;
    while (j < text.size() && is_space_or_tab(text[j])) ++j;
    if (j < text.size() && text[j] == '$') ++j;
    if (j < text.size()) {
      char c = static_cast<char>(std::toupper(static_cast<unsigned char>(text[j])));
      if (c >= 'A' && c <= 'D') return std::string(1, c);
    }
  }
  return "";
}

std::string extract_code_block(std::string_view completion, std::string* language) {
  std::string_view text = strip_reasoning(completion);
  struct Fence {
    std::string_view tag, language;
  };
  static constexpr Fence kFences[] = {{"```python", "python"}, {"```py", "python"},
                                      {"```cpp", "cpp"},       {"```c++", "cpp"},
                                      {"```C++", "cpp"},       {"```Python", "python"}};
  size_t best = std::string_view::npos, best_len = 0;
  std::string_view best_lang;
  for (const auto& f : kFences) {
    for (size_t p = text.rfind(f.tag); p != std::string_view::npos;
         p = p == 0 ? std::string_view::npos : text.rfind(f.tag, p - 1)) {
      size_t after = p + f.tag.size();
      // the tag must end the fence line ("```py" must not match inside "```python")
      size_t eol = text.find('\n', after);
      if (eol == std::string_view::npos) break;
      bool clean = true;
      for (size_t k = after; k < eol; ++k)
        clean = clean && std::isspace(static_cast<unsigned char>(text[k]));
      if (!clean) continue;
      if (text.find("```", eol) == std::string_view::npos) continue;  // unclosed: truncated
      if (best == std::string_view::npos || p > best) {
        best = p;
        best_len = eol + 1 - p;
        best_lang = f.language;
      }
      break;
    }
  }
  if (best == std::string_view::npos) return "";
  size_t body = best + best_len;
  size_t close = text.find("```", body);
  if (language) *language = std::string(best_lang);
  return std::string(text.substr(body, close - body));
}

std::unique_ptr<Verifier> make_verifier(std::string_view task, const VerifierOptions& options) {
  auto v = make_plain_verifier(task, options);
  if (options.require_think_end) return std::make_unique<ThinkEndRequired>(std::move(v));
  return v;
}

}  // namespace r1::eval
