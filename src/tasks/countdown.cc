#include "tasks/countdown.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "eval/countdown.h"

namespace r1::tasks {

namespace {

// One try: numbers, then a chain over a random subset of at least two of them. False when the
// chain leaves the allowed range.
bool try_make(SplitMix64& rng, const CountdownOptions& o, CountdownProblem* p) {
  p->numbers.clear();
  p->steps.clear();
  for (int i = 0; i < o.numbers; ++i) p->numbers.push_back(rng.uniform(1, o.max_number));
  std::vector<int64_t> order = p->numbers;
  for (size_t i = order.size(); i > 1; --i)  // Fisher-Yates, from the last position down
    std::swap(order[i - 1], order[static_cast<size_t>(rng.uniform(0, int64_t(i) - 1))]);
  const size_t use = static_cast<size_t>(rng.uniform(2, o.numbers));
  int64_t value = order[0];
  std::string expr = std::to_string(order[0]);
  char last_op = 0;
  for (size_t i = 1; i < use; ++i) {
    const int64_t x = order[i];
    const char op = "+-*/"[rng.uniform(0, 3)];
    int64_t next = 0;
    if (op == '+') next = value + x;
    if (op == '-') next = value - x;
    if (op == '*') next = value * x;
    if (op == '/') {
      if (x == 0 || value % x != 0) return false;
      next = value / x;
    }
    if (next < 0 || next > 100000) return false;
    p->steps.push_back(std::to_string(value) + " " + op + " " + std::to_string(x) + " = " +
                       std::to_string(next));
    // Parenthesize the chain so far when it binds looser than the new operator.
    const bool loose = last_op == '+' || last_op == '-';
    if ((op == '*' || op == '/') && loose) expr = "(" + expr + ")";
    expr += std::string(" ") + op + " " + std::to_string(x);
    last_op = op;
    value = next;
  }
  if (value < 1 || value > o.max_target) return false;
  p->target = value;
  p->equation = expr;
  std::vector<int64_t> sorted = p->numbers;
  std::sort(sorted.begin(), sorted.end());
  p->canonical = "countdown:";
  for (size_t i = 0; i < sorted.size(); ++i)
    p->canonical += (i ? "," : "") + std::to_string(sorted[i]);
  p->canonical += ":" + std::to_string(p->target);
  return true;
}

}  // namespace

std::vector<CountdownProblem> generate_countdown(size_t n, const CountdownOptions& o) {
  if (o.numbers < 2 || o.numbers > 6) fail_usage("--numbers must be between 2 and 6");
  if (o.max_number < 1 || o.max_number > 1000) fail_usage("--max-number must be in [1, 1000]");
  if (o.max_target < 1) fail_usage("--max-target must be positive");
  SplitMix64 rng(o.seed * 0x9e3779b97f4a7c15ull + 0xc0c0);
  std::vector<CountdownProblem> out;
  std::set<std::string> seen;
  const size_t max_tries = 1000 * n + 100000;
  for (size_t tries = 0; out.size() < n; ++tries) {
    if (tries > max_tries)
      fail_usage("cannot make ", n, " ", o.distinct ? "distinct " : "",
                 "countdown problems with these settings in this split");
    CountdownProblem p;
    if (!try_make(rng, o, &p) || split_of(p.canonical) != o.split) continue;
    if (o.distinct && !seen.insert(p.canonical).second) continue;
    out.push_back(std::move(p));
  }
  return out;
}

std::string countdown_eval_row(const CountdownProblem& p) {
  nlohmann::ordered_json j = {{"numbers", p.numbers}, {"target", p.target}, {"id", p.canonical}};
  return j.dump() + "\n";
}

std::string countdown_sft_row(const CountdownProblem& p) {
  std::string think;
  for (const auto& s : p.steps) think += s + "\n";
  nlohmann::ordered_json j = {
      {"messages",
       {{{"role", "user"}, {"content", eval::countdown_prompt(p.numbers, p.target)}},
        {{"role", "assistant"},
         {"content", "<think>\n" + think + "</think>\n\n\\boxed{" + p.equation + "}"}}}},
      {"numbers", p.numbers},
      {"target", p.target}};
  return j.dump() + "\n";
}

}  // namespace r1::tasks
