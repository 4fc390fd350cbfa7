// The problems RL and rejection sampling work on: a file in one of r1 eval's formats, or, for the
// procedural tasks, generated ones (countdown with its default difficulty; arithmetic as
// MATH-style \boxed answers, task "math") of the given split when no file is given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/problem.h"
#include "tasks/arithmetic.h"

namespace r1::train {

std::vector<eval::Problem> task_problems(const std::string& task, const std::string& file,
                                         tasks::Split split, size_t n, uint64_t seed);

}  // namespace r1::train
