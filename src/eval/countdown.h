// Countdown (TinyZero's task, after the TV game): combine the given numbers with + - * / and
// parentheses, each number at most once, to reach the target. The answer is an equation in the
// last \boxed{} or <answer>...</answer> of the completion (after the reasoning); `\times`, `×` and
// `\cdot` also mean *, `\div` and `÷` mean /, and a trailing "= value" is allowed. The equation is
// parsed and evaluated here with exact rational arithmetic; it is never run as code.
//
// Reward (TinyZero): 1 when the equation is well formed, uses only given numbers (each at most as
// often as given) and equals the target; 0.1 when it is well formed but wrong (another value, a
// number that is not given or used too often, a division by zero, a trailing value that is not the
// equation's); 0 when there is no answer or it does not parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace r1::eval {

struct CountdownGrade {
  double reward = 0;     // 1, 0.1 or 0
  std::string equation;  // the answer as written ("" when none was found)
  std::string why;       // for wrong answers: what is wrong
};

// The question (r1's wording), followed by R1's math instruction to box the answer.
std::string countdown_prompt(const std::vector<int64_t>& numbers, int64_t target);

CountdownGrade grade_countdown(std::string_view completion, const std::vector<int64_t>& numbers,
                               int64_t target);

// The value of an equation as a fraction (numerator, denominator > 0), the numbers it uses, or
// false when it does not parse or divides by zero / overflows (`why` says which).
bool evaluate_countdown(std::string_view equation, int64_t* num, int64_t* den,
                        std::vector<int64_t>* used, std::string* why);

}  // namespace r1::eval
