// Deciding whether two math answers are the same (docs/FACTS.md section 7; in the spirit of
// Math-Verify, strict rather than lenient).
//
// Order of checks, each on normalized answers (math_answer.h):
//   1. equal strings; two plain words compare case-insensitively ("East" = "east");
//   2. both are parsed (math_expr.h) and compared by structure:
//      - scalars: evaluated at up to 6 points (each free variable gets a fixed positive rational
//        per point, the same on both sides) with exact rational arithmetic (128-bit) while the
//        values stay rational, and complex long double otherwise (pi, radicals that are not
//        perfect powers, trig, i). Exact values must be equal; approximate ones must agree to a
//        relative 1e-8 (absolute 1e-14 near zero). So 0.5 = 1/2 = 50%-of-1, 2\sqrt{2} = \sqrt{8},
//        (x+1)^2 = x^2+2x+1, but 0.333 != 1/3 and 3.14 != \pi;
//      - a percentage "x%" equals x and x/100;
//      - tuples and intervals element-wise, with the same brackets ((3,4] != (3,4));
//      - sets, bare comma lists and unions of intervals order-free (as multisets);
//      - a bare list against a parenthesized tuple: element-wise in order;
//      - matrices element-wise; a one-row or one-column matrix also against a tuple/list;
//      - an equation "v = rhs" (v a single variable) against a non-equation: rhs is compared;
//      - two equations: the same up to a nonzero constant factor of (lhs - rhs)
//        (y = 2x + 3 equals 2x - y + 3 = 0);
//      - a one-element set or list against a scalar: the element is compared;
//      - anything unparsed (Text) only by step 1.
#pragma once

#include <string_view>

namespace r1::eval {

// Whether two raw answers (e.g. a gold answer and the extracted answer of a completion) are the
// same; both are normalized first. Symmetric.
bool math_answers_equal(std::string_view a, std::string_view b);

// The same for answers already passed through normalize_math_answer.
bool math_normalized_equal(std::string_view a, std::string_view b);

}  // namespace r1::eval
