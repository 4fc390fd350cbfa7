// Deciding whether a predicted math answer is the gold answer (docs/FACTS.md section 7). The
// rules learn from Math-Verify (Hugging Face's grader; its test suite is r1's agreement table,
// tests/fixtures/grader) and stay strict where Math-Verify is lenient; each difference is named
// where it is decided.
//
// Order of checks, each on normalized answers (math_answer.h):
//   1. equal strings; two plain words compare case-insensitively ("East" = "east");
//   2. both are parsed (math_expr.h) and compared by structure:
//      - scalars: evaluated at up to 6 points (each free variable gets a fixed positive rational
//        per point, the same on both sides) with exact rational arithmetic (128-bit) while the
//        values stay rational, and complex long double otherwise (pi, radicals that are not
//        perfect powers, trig, i). Exact values must be equal; approximate ones must agree to a
//        relative 1e-8 (absolute 1e-14 near zero). A decimal against an exact value is compared
//        rounded to `precision` places (0.0833333 = 1/12, 0.333 != 1/3); two decimals must be
//        equal. So 0.5 = 1/2, 2\sqrt{2} = \sqrt{8}, (x+1)^2 = x^2+2x+1, 3.14 != \pi;
//      - a percentage "x%" equals x and x/100;
//      - tuples and intervals element-wise, with the same brackets ((3,4] != (3,4));
//      - sets, bare lists and unions of intervals as sets (order and repeats do not matter);
//      - a list or set against a parenthesized tuple: element-wise in order ({1,3} = (1,3));
//      - matrices element-wise (sums and products of written matrices worked out first); a
//        one-row or one-column matrix also against a tuple/list;
//      - relations (=, <, >, \le, \ge, \ne, chains): the same relation with lhs - rhs equal up to
//        a constant factor (nonzero for = and \ne, positive for inequalities), so -x > -1 is
//        x < 1 and 2x + 4y - 3 = 0 is y = -x/2 + 3/4; an assignment chain x = 5 + 6 = 11 is
//        x = 11;
//      - a relation against a value: an equation whose left side only names the value (x, (p,q),
//        |AB|, A:B, f(x)) or that has no variables answers with its last side; a one-variable
//        inequality in the gold answer is the interval it describes ("0 < f(x) < 1" = (0, 1));
//      - a one-element set or list against a single value: the element is compared; a two-number
//        list "1,22" against a decimal 1.22 reads the comma as a decimal comma;
//      - anything unparsed (Text) only by step 1.
#pragma once

#include <string_view>

namespace r1::eval {

struct MathGradeOptions {
  // Decimal places at which a decimal is compared with an exact value (Math-Verify's
  // float_rounding, default 6).
  int precision = 6;
  // Whether a predicted inequality may answer for a gold set or interval (Math-Verify's
  // allow_set_relation_comp, default off: a gold inequality always matches its interval).
  bool relation_matches_set = false;
  // Whether variable names matter (Math-Verify's strict, default on). Off, the prediction's
  // variables are renamed to the gold answer's when both have as many: f(y) = f(x).
  bool strict = true;
};

// Whether the predicted answer is the gold answer; both are normalized first. The gold answer
// goes first: a few rules are one-sided (see above).
bool math_answers_equal(std::string_view gold, std::string_view pred,
                        const MathGradeOptions& options = {});

// The same for answers already passed through normalize_math_answer.
bool math_normalized_equal(std::string_view gold, std::string_view pred,
                           const MathGradeOptions& options = {});

}  // namespace r1::eval
