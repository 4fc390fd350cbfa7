#include "train/problems.h"

#include "core/error.h"
#include "eval/countdown.h"
#include "eval/loaders.h"
#include "tasks/countdown.h"

namespace r1::train {

std::vector<eval::Problem> task_problems(const std::string& task, const std::string& file,
                                         tasks::Split split, size_t n, uint64_t seed) {
  if (!file.empty()) return eval::load_problems(file, task == "arithmetic" ? "math" : task);
  std::vector<eval::Problem> out;
  if (task == "countdown") {
    tasks::CountdownOptions o;
    o.seed = seed;
    o.split = split;
    o.distinct = true;
    for (const auto& p : tasks::generate_countdown(n, o)) {
      eval::Problem q;
      q.id = p.canonical;
      q.task = "countdown";
      q.numbers = p.numbers;
      q.answer = std::to_string(p.target);
      q.prompt = eval::countdown_prompt(p.numbers, p.target);
      out.push_back(std::move(q));
    }
  } else if (task == "arithmetic") {
    tasks::ArithOptions o;
    o.seed = seed;
    o.split = split;
    o.distinct = true;
    for (const auto& p : tasks::generate_arithmetic(n, o)) {
      eval::Problem q;
      q.id = p.canonical;
      q.task = "math";
      q.answer = std::to_string(p.answer);
      q.prompt = p.prompt;
      out.push_back(std::move(q));
    }
  } else {
    fail_usage("--data FILE is required for task ", task,
               " (only countdown and arithmetic are generated)");
  }
  return out;
}

}  // namespace r1::train
