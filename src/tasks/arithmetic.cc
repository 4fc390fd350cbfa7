#include "tasks/arithmetic.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "eval/loaders.h"
#include "eval/rollout.h"

namespace r1::tasks {

namespace {

// ---------------------------------------------------------------------------------------------
// Wording.

struct Person {
  const char* name;
  const char* he;  // "he" / "she"
  const char* He;  // "He" / "She"
};
constexpr Person kPeople[] = {
    {"Tom", "he", "He"},  {"Anna", "she", "She"}, {"Ben", "he", "He"},  {"Lily", "she", "She"},
    {"Sam", "he", "He"},  {"Mia", "she", "She"},  {"Jack", "he", "He"}, {"Emma", "she", "She"},
    {"Leo", "he", "He"},  {"Zoe", "she", "She"},  {"Max", "he", "He"},  {"Nora", "she", "She"},
    {"Omar", "he", "He"}, {"Sara", "she", "She"}, {"Ravi", "he", "He"}, {"Lucy", "she", "She"},
};
constexpr const char* kThings[] = {"pencils", "books",   "marbles", "stickers", "coins",
                                   "cards",   "shells",  "stamps",  "toy cars", "balloons",
                                   "crayons", "buttons", "beads",   "blocks"};
constexpr const char* kFoods[] = {"apples", "cookies",  "oranges", "candies",
                                  "grapes", "cherries", "muffins", "plums"};
struct Container {
  const char* one;
  const char* many;
};
constexpr Container kContainers[] = {{"box", "boxes"},      {"bag", "bags"},   {"jar", "jars"},
                                     {"basket", "baskets"}, {"pack", "packs"}, {"tray", "trays"}};

template <typename T, size_t N>
const T& pick(const T (&items)[N], SplitMix64& rng) {
  return items[rng.index(N)];
}

const char* op_symbol(ArithOp op) {
  switch (op) {
    case ArithOp::Add:
      return "+";
    case ArithOp::Sub:
      return "-";
    case ArithOp::Mul:
      return "×";
    case ArithOp::Div:
      return "÷";
  }
  return "?";
}
const char* op_name(ArithOp op) {
  switch (op) {
    case ArithOp::Add:
      return "add";
    case ArithOp::Sub:
      return "sub";
    case ArithOp::Mul:
      return "mul";
    case ArithOp::Div:
      return "div";
  }
  return "?";
}

std::string s(int64_t v) {
  return std::to_string(v);
}

std::string expression(ArithOp op, int64_t a, int64_t b) {
  return s(a) + " " + op_symbol(op) + " " + s(b);
}

// A plain problem, one of four phrasings.
std::string plain_text(ArithOp op, int64_t a, int64_t b, SplitMix64& rng) {
  static constexpr const char* kWords[][2] = {
      {"plus", "the sum"}, {"minus", ""}, {"times", "the product"}, {"divided by", "the quotient"}};
  const char* const* w = kWords[static_cast<int>(op)];
  switch (rng.uniform(0, 3)) {
    case 0:
      return "What is " + expression(op, a, b) + "?";
    case 1:
      return "Compute " + expression(op, a, b) + ".";
    case 2:
      return "Calculate " + s(a) + " " + w[0] + " " + s(b) + ".";
    default:
      if (op == ArithOp::Sub) return "Subtract " + s(b) + " from " + s(a) + ".";
      return std::string("Find ") + w[1] + " of " + s(a) + " and " + s(b) + ".";
  }
}

struct WordText {
  std::string problem;
  std::string cue;  // "buys more means add"
};

// A story for a op b. For x the story may name the factors in either order; the computation
// is always a × b (b the shorter factor).
WordText story(ArithOp op, int64_t a, int64_t b, SplitMix64& rng) {
  const Person& p = pick(kPeople, rng);
  const Person* q = &pick(kPeople, rng);
  while (q == &p) q = &pick(kPeople, rng);
  const std::string A = s(a), B = s(b), N = p.name, N2 = q->name, he = p.he, He = p.He;
  if (op == ArithOp::Add) {
    const std::string t = pick(kThings, rng);
    switch (rng.uniform(0, 3)) {
      case 0:
        return {N + " has " + A + " " + t + " and buys " + B + " more. How many " + t + " does " +
                    he + " have now?",
                "buys more means add"};
      case 1:
        return {N + " has " + A + " " + t + ". " + He + " finds " + B + " more. How many " + t +
                    " does " + he + " have now?",
                "finds more means add"};
      case 2:
        return {N + " has " + A + " " + t + " and " + N2 + " has " + B + " " + t + ". How many " +
                    t + " do they have in total?",
                "in total means add"};
      default: {
        const Container& c = pick(kContainers, rng);
        return {std::string("There are ") + A + " " + t + " in a " + c.one + ". " + N + " puts " +
                    B + " more " + t + " in the " + c.one + ". How many " + t + " are in the " +
                    c.one + " now?",
                "puts more in means add"};
      }
    }
  }
  if (op == ArithOp::Sub) {
    const std::string t = pick(kThings, rng);
    switch (rng.uniform(0, 3)) {
      case 0:
        return {N + " has " + A + " " + t + " and gives away " + B + ". How many " + t + " does " +
                    he + " have left?",
                "gives away means subtract"};
      case 1: {
        const std::string f = pick(kFoods, rng);
        return {N + " has " + A + " " + f + ". " + He + " eats " + B + " of them. How many " + f +
                    " are left?",
                "eats means subtract"};
      }
      case 2:
        return {N + " had " + A + " " + t + " and lost " + B + " of them. How many " + t +
                    " does " + he + " have now?",
                "lost means subtract"};
      default:
        return {N + " has " + A + " " + t + " and " + N2 + " has " + B + " " + t +
                    ". How many more " + t + " does " + N + " have than " + N2 + "?",
                "how many more means subtract"};
    }
  }
  // Multiplication: groups x size, in the story's order; a × b is the computation.
  const bool groups_first = rng.uniform(0, 1) == 0;
  const std::string G = groups_first ? A : B, M = groups_first ? B : A;
  const std::string t = rng.uniform(0, 1) == 0 ? pick(kThings, rng) : pick(kFoods, rng);
  const Container& c = pick(kContainers, rng);
  switch (rng.uniform(0, 2)) {
    case 0:
      return {std::string("There are ") + G + " " + c.many + " with " + M + " " + t + " in each " +
                  c.one + ". How many " + t + " are there in total?",
              std::string("in each ") + c.one + " means multiply"};
    case 1:
      return {N + " buys " + G + " " + c.many + " of " + t + ". Each " + c.one + " has " + M + " " +
                  t + ". How many " + t + " does " + he + " buy?",
              std::string("each ") + c.one + " means multiply"};
    default:
      return {N + " puts " + t + " in " + G + " rows with " + M + " " + t +
                  " in each row. How many " + t + " are there?",
              "in each row means multiply"};
  }
}

bool replace_end(std::string& text, const std::string& from, const std::string& to) {
  if (!text.ends_with(from)) return false;
  text.replace(text.size() - from.size(), from.size(), to);
  return true;
}

// The story with its closing question varied ("now?" / "?", "in total" / "in all" /
// "altogether"), so that a model must read the verb for the operation, not the question's
// last words.
WordText word_text(ArithOp op, int64_t a, int64_t b, SplitMix64& rng) {
  WordText w = story(op, a, b, rng);
  const int v = static_cast<int>(rng.uniform(0, 2));
  if (w.problem.ends_with(" now?")) {
    if (v != 0) replace_end(w.problem, " now?", "?");
  } else if (w.problem.ends_with(" in total?")) {
    replace_end(w.problem, " in total?",
                v == 0   ? " in total?"
                : v == 1 ? " in all?"
                         : " altogether?");
  } else if (w.problem.ends_with(" left?")) {
    if (v == 2) replace_end(w.problem, " left?", " left now?");
  } else if (w.problem.ends_with(" are there?")) {
    if (v != 0)
      replace_end(w.problem, " are there?",
                  v == 1 ? " are there in all?" : " are there altogether?");
  }
  return w;
}

// ---------------------------------------------------------------------------------------------
// Worked solutions. Each builder appends lines and returns the exact result it wrote, which the
// caller asserts against a op b.

std::vector<int> digits_lsb(int64_t v) {
  std::vector<int> d;
  do {
    d.push_back(static_cast<int>(v % 10));
    v /= 10;
  } while (v > 0);
  return d;
}

// Reads the written digits (least significant first; the last entry may be a whole number).
int64_t from_written(const std::vector<int64_t>& written) {
  int64_t v = 0, scale = 1;
  for (size_t i = 0; i < written.size(); ++i) {
    v += written[i] * scale;
    scale *= 10;
  }
  return v;
}

int64_t add_columns(int64_t a, int64_t b, std::vector<std::string>& lines) {
  const std::vector<int> da = digits_lsb(a), db = digits_lsb(b);
  const size_t n = std::max(da.size(), db.size());
  std::vector<int64_t> written;
  int carry = 0;
  for (size_t i = 0; i < n; ++i) {
    const int x = i < da.size() ? da[i] : 0, y = i < db.size() ? db[i] : 0;
    const int sum = x + y + carry;
    std::string line = s(x) + " + " + s(y) + (carry ? " + 1" : "") + " = " + s(sum);
    if (i + 1 == n) {
      line += ", write " + s(sum);
      written.push_back(sum);
    } else {
      line += ", write " + s(sum % 10);
      if (sum >= 10) line += ", carry 1";
      written.push_back(sum % 10);
    }
    carry = sum / 10;
    lines.push_back(line);
  }
  const int64_t result = from_written(written);
  R1_ASSERT(result == a + b);
  return result;
}

int64_t sub_columns(int64_t a, int64_t b, std::vector<std::string>& lines) {
  R1_ASSERT(a >= b && b >= 0);
  const std::vector<int> da = digits_lsb(a), db = digits_lsb(b);
  std::vector<int64_t> written;
  int borrow = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    const int x = da[i], y = i < db.size() ? db[i] : 0;
    const int lower = y + borrow;
    std::string line;
    if (borrow) line = s(y) + " + 1 = " + s(lower) + ", ";
    int r;
    if (x >= lower) {
      r = x - lower;
      line += s(x) + " - " + s(lower) + " = " + s(r);
      borrow = 0;
    } else {
      R1_ASSERT(i + 1 < da.size());  // a >= b: the top column never borrows
      r = x + 10 - lower;
      line +=
          s(x) + " < " + s(lower) + ", borrow 1, " + s(x + 10) + " - " + s(lower) + " = " + s(r);
      borrow = 1;
    }
    line += ", write " + s(r);
    written.push_back(r);
    lines.push_back(line);
  }
  const int64_t result = from_written(written);
  R1_ASSERT(result == a - b);
  return result;
}

// a × d for one digit d.
int64_t mul_digit_rows(int64_t a, int d, std::vector<std::string>& lines) {
  R1_ASSERT(d >= 0 && d <= 9);
  const std::vector<int> da = digits_lsb(a);
  std::vector<int64_t> written;
  int carry = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    const int product = da[i] * d;
    std::string line = s(da[i]) + " × " + s(d) + " = " + s(product);
    const int sum = product + carry;
    if (carry) line += ", " + s(product) + " + " + s(carry) + " = " + s(sum);
    if (i + 1 == da.size()) {
      line += ", write " + s(sum);
      written.push_back(sum);
    } else {
      line += ", write " + s(sum % 10);
      if (sum >= 10) line += ", carry " + s(sum / 10);
      written.push_back(sum % 10);
    }
    carry = sum / 10;
    lines.push_back(line);
  }
  const int64_t result = from_written(written);
  R1_ASSERT(result == a * d);
  return result;
}

int64_t mul_lines(int64_t a, int64_t b, std::vector<std::string>& lines) {
  if (b < 10) return mul_digit_rows(a, static_cast<int>(b), lines);
  R1_ASSERT(a >= 10 && a <= 99 && b >= 10 && b <= 99);
  const int64_t low = mul_digit_rows(a, static_cast<int>(b % 10), lines);
  lines.push_back(s(a) + " × " + s(b % 10) + " = " + s(low));
  const int64_t high = mul_digit_rows(a, static_cast<int>(b / 10), lines) * 10;
  lines.push_back(s(a) + " × " + s(b / 10 * 10) + " = " + s(high));
  // No "low + high" line: the two lines above already state the numbers added (and the
  // 2-digit multiplications are the longest solutions).
  const int64_t result = add_columns(low, high, lines);
  R1_ASSERT(result == a * b);
  return result;
}

int64_t apply(ArithOp op, int64_t a, int64_t b) {
  switch (op) {
    case ArithOp::Add:
      return a + b;
    case ArithOp::Sub:
      return a - b;
    case ArithOp::Mul:
      return a * b;
    case ArithOp::Div:
      return a / b;
  }
  return 0;
}

// neg: a - b with a < b, as b - a with the sign.
int64_t neg_lines(int64_t a, int64_t b, std::vector<std::string>& lines) {
  R1_ASSERT(0 <= a && a < b);
  lines.push_back(s(a) + " < " + s(b) + ", swap: " + s(b) + " - " + s(a));
  const int64_t d = sub_columns(b, a, lines);
  lines.push_back("So " + s(b) + " - " + s(a) + " = " + s(d) + ".");
  return -d;
}

// div: short division of a by one digit d, most significant digit first.
int64_t div_lines(int64_t a, int64_t d, std::vector<std::string>& lines) {
  R1_ASSERT(d >= 2 && d <= 9 && a % d == 0);
  const std::vector<int> da = digits_lsb(a);
  int64_t r = 0, q_all = 0;
  for (size_t i = da.size(); i-- > 0;) {
    const int64_t n = r * 10 + da[i], q = n / d;
    r = n % d;
    lines.push_back(s(n) + " ÷ " + s(d) + " = " + s(q) + " remainder " + s(r) + ", write " + s(q));
    q_all = q_all * 10 + q;
  }
  R1_ASSERT(r == 0 && q_all == a / d);
  return q_all;
}

// mul3: a partial product per nonzero digit of b, then their sums one by one.
int64_t mul_any_lines(int64_t a, int64_t b, std::vector<std::string>& lines) {
  if (b < 10) return mul_digit_rows(a, static_cast<int>(b), lines);
  std::vector<int64_t> partials;
  int64_t place = 1;
  for (int64_t rest = b; rest > 0; rest /= 10, place *= 10) {
    const int digit = static_cast<int>(rest % 10);
    if (digit == 0) continue;
    const int64_t row = mul_digit_rows(a, digit, lines) * place;
    lines.push_back(s(a) + " × " + s(digit * place) + " = " + s(row));
    partials.push_back(row);
  }
  int64_t acc = partials[0];
  for (size_t i = 1; i < partials.size(); ++i) {
    lines.push_back(s(acc) + " + " + s(partials[i]));
    const int64_t sum = add_columns(acc, partials[i], lines);
    lines.push_back("So " + s(acc) + " + " + s(partials[i]) + " = " + s(sum) + ".");
    acc = sum;
  }
  R1_ASSERT(acc == a * b);
  return acc;
}

// One binary step of an expression with the method of its operator; sub needs x >= y.
int64_t step_lines(ArithOp op, int64_t x, int64_t y, std::vector<std::string>& lines) {
  switch (op) {
    case ArithOp::Add:
      return add_columns(x, y, lines);
    case ArithOp::Sub:
      return sub_columns(x, y, lines);
    case ArithOp::Mul:
      return mul_any_lines(x, y, lines);
    case ArithOp::Div:
      return div_lines(x, y, lines);
  }
  return 0;
}

// An expression of two or three steps (see arithmetic.h "expr"): its text and its steps in the
// order they are computed, each (x op y) with x, y numbers or earlier results.
struct ExprDraw {
  std::string text;
  struct Step {
    ArithOp op;
    int64_t x, y;
  };
  std::vector<Step> steps;
  int64_t value = 0;
};

bool draw_expr(SplitMix64& rng, ExprDraw* e) {
  const auto num = [&] { return rng.uniform(2, 99); };
  const auto digit = [&] { return rng.uniform(2, 9); };
  const auto pm = [&] { return rng.uniform(0, 1) ? ArithOp::Add : ArithOp::Sub; };
  const auto sym = [](ArithOp op) { return std::string(" ") + op_symbol(op) + " "; };
  e->steps.clear();
  auto step = [&](ArithOp op, int64_t x, int64_t y) {
    if (op == ArithOp::Sub && x < y) return int64_t{-1};
    e->steps.push_back({op, x, y});
    return apply(op, x, y);
  };
  const int64_t a = num(), b = num();
  const ArithOp o1 = pm(), o2 = pm();
  int64_t v = -1;
  switch (rng.uniform(0, 4)) {
    case 0: {  // (a ± b) × c
      const int64_t c = digit(), s1 = step(o1, a, b);
      if (s1 < 0) return false;
      v = step(ArithOp::Mul, s1, c);
      e->text = "(" + s(a) + sym(o1) + s(b) + ") × " + s(c);
      break;
    }
    case 1: {  // a × c ± b
      const int64_t c = digit(), s1 = step(ArithOp::Mul, a, c);
      v = step(o1, s1, b);
      e->text = s(a) + " × " + s(c) + sym(o1) + s(b);
      break;
    }
    case 2: {  // a ± b × c
      const int64_t c = digit(), s1 = step(ArithOp::Mul, b, c);
      v = step(o1, a, s1);
      e->text = s(a) + sym(o1) + s(b) + " × " + s(c);
      break;
    }
    case 3: {  // (a ± b) × c ± d
      const int64_t c = digit(), d = num(), s1 = step(o1, a, b);
      if (s1 < 0) return false;
      const int64_t s2 = step(ArithOp::Mul, s1, c);
      v = step(o2, s2, d);
      e->text = "(" + s(a) + sym(o1) + s(b) + ") × " + s(c) + sym(o2) + s(d);
      break;
    }
    default: {  // a ± (b ± c)
      const int64_t c = num(), s1 = step(o2, b, c);
      if (s1 < 0) return false;
      v = step(o1, a, s1);
      e->text = s(a) + sym(o1) + "(" + s(b) + sym(o2) + s(c) + ")";
      break;
    }
  }
  e->value = v;
  return v >= 0;
}

// How people type the operators: × as ×, * or x; ÷ as ÷ or /.
std::string typed(std::string text, SplitMix64& rng) {
  const int m = static_cast<int>(rng.uniform(0, 2)), d = static_cast<int>(rng.uniform(0, 1));
  const std::string times[] = {"×", "*", "x"}, divide[] = {"÷", "/"};
  for (const auto& [from, to] : {std::pair{std::string("×"), times[m]}, {"÷", divide[d]}})
    for (size_t k = text.find(from); k != std::string::npos; k = text.find(from, k + to.size()))
      text.replace(k, from.size(), to);
  return text;
}

// A number with exactly `digits` digits, at least min_value (one digit: min_value..9).
int64_t with_digits(int64_t digits, int64_t min_value, SplitMix64& rng) {
  int64_t lo = 1;
  for (int64_t k = 1; k < digits; ++k) lo *= 10;
  const int64_t hi = lo * 10 - 1;
  if (digits == 1) lo = 0;
  return rng.uniform(std::max(lo, min_value), hi);
}

struct Operands {
  ArithOp op;
  int64_t a, b;
};

// Operand shapes: digit counts uniform, then values uniform within them, so short and long
// numbers are equally common.
Operands draw_operands(ArithKind kind, SplitMix64& rng) {
  switch (kind) {
    case ArithKind::Add: {
      const int64_t a = with_digits(rng.uniform(1, 4), 1, rng);
      const int64_t b = with_digits(rng.uniform(1, 4), 1, rng);
      return {ArithOp::Add, a, b};
    }
    case ArithKind::Sub: {
      const int64_t da = rng.uniform(1, 4);
      int64_t a = with_digits(da, 1, rng), b = with_digits(rng.uniform(1, da), 1, rng);
      if (a < b) std::swap(a, b);
      return {ArithOp::Sub, a, b};
    }
    case ArithKind::Mul: {
      if (rng.uniform(0, 1) == 0) {
        const int64_t a = with_digits(rng.uniform(1, 3), 2, rng);
        return {ArithOp::Mul, a, rng.uniform(2, 9)};
      }
      return {ArithOp::Mul, rng.uniform(10, 99), rng.uniform(10, 99)};
    }
    case ArithKind::Word: {
      // Numbers of 1 to 3 digits and at least 2 (no "1 apples").
      const ArithOp op = static_cast<ArithOp>(rng.uniform(0, 2));
      if (op == ArithOp::Add)
        return {op, with_digits(rng.uniform(1, 3), 2, rng), with_digits(rng.uniform(1, 3), 2, rng)};
      if (op == ArithOp::Sub) {
        const int64_t da = rng.uniform(1, 3);
        int64_t a = with_digits(da, 2, rng), b = with_digits(rng.uniform(1, da), 2, rng);
        if (a < b) std::swap(a, b);
        return {op, a, b};
      }
      if (rng.uniform(0, 1) == 0)
        return {op, with_digits(rng.uniform(1, 3), 2, rng), rng.uniform(2, 9)};
      return {op, rng.uniform(10, 99), rng.uniform(10, 99)};
    }
    case ArithKind::Neg: {
      const int64_t db = rng.uniform(1, 4);
      int64_t b = with_digits(db, 1, rng), a = with_digits(rng.uniform(1, db), 1, rng);
      if (a > b) std::swap(a, b);
      if (a == b) ++b;
      return {ArithOp::Sub, a, b};
    }
    case ArithKind::Div: {
      const int64_t d = rng.uniform(2, 9);
      const int64_t q = with_digits(rng.uniform(1, 3), 2, rng);
      return {ArithOp::Div, q * d, d};
    }
    case ArithKind::Mul3:
      return {ArithOp::Mul, with_digits(rng.uniform(2, 3), 10, rng),
              with_digits(rng.uniform(2, 3), 10, rng)};
    case ArithKind::Expr:
      break;  // generate_arithmetic draws expressions itself (draw_expr)
  }
  fail_internal("unknown arithmetic kind");
}

std::string canonical_of(ArithKind kind, ArithOp op, int64_t a, int64_t b) {
  // + and × are the same problem in either order.
  if ((op == ArithOp::Add || op == ArithOp::Mul) && a < b) std::swap(a, b);
  std::string head = kind == ArithKind::Word ? std::string("word-") + op_name(op) : kind_name(kind);
  return head + ":" + s(a) + ":" + s(b);
}

}  // namespace

const char* kind_name(ArithKind kind) {
  switch (kind) {
    case ArithKind::Add:
      return "add";
    case ArithKind::Sub:
      return "sub";
    case ArithKind::Mul:
      return "mul";
    case ArithKind::Word:
      return "word";
    case ArithKind::Neg:
      return "neg";
    case ArithKind::Div:
      return "div";
    case ArithKind::Mul3:
      return "mul3";
    case ArithKind::Expr:
      return "expr";
  }
  return "?";
}

std::vector<std::pair<ArithKind, int>> all_kinds() {
  return {{ArithKind::Add, 1}, {ArithKind::Sub, 1}, {ArithKind::Mul, 1}, {ArithKind::Word, 1}};
}

std::vector<std::pair<ArithKind, int>> parse_kinds(const std::string& spec) {
  std::vector<std::pair<ArithKind, int>> out;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(start, end - start);
    start = end + 1;
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    int weight = 1;
    if (eq != std::string::npos) {
      const std::string w = item.substr(eq + 1);
      weight = 0;
      for (char c : w) {
        if (c < '0' || c > '9' || weight > 100) {
          weight = -1;
          break;
        }
        weight = weight * 10 + (c - '0');
      }
      if (w.empty() || weight < 1 || weight > 100)
        fail_usage("--kinds: weight of '", name, "' must be an integer 1..100, got '", w, "'");
    }
    ArithKind kind;
    if (name == "add")
      kind = ArithKind::Add;
    else if (name == "sub")
      kind = ArithKind::Sub;
    else if (name == "mul")
      kind = ArithKind::Mul;
    else if (name == "word")
      kind = ArithKind::Word;
    else if (name == "neg")
      kind = ArithKind::Neg;
    else if (name == "div")
      kind = ArithKind::Div;
    else if (name == "mul3")
      kind = ArithKind::Mul3;
    else if (name == "expr")
      kind = ArithKind::Expr;
    else
      fail_usage("--kinds: unknown kind '", name,
                 "' (expected add, sub, mul, word, neg, div, mul3, expr)");
    for (const auto& [k, w] : out)
      if (k == kind) fail_usage("--kinds: '", name, "' given twice");
    out.emplace_back(kind, weight);
  }
  return out;
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::Train;
  if (name == "test") return Split::Test;
  fail_usage("--split must be train or test, got '", name, "'");
}

Split split_of(std::string_view canonical) {
  return fnv1a64(canonical) % 10 == 0 ? Split::Test : Split::Train;
}

namespace {

// The parts every problem shares: prompt, think block around the lines, boxed answer.
void finish_problem(ArithProblem& p, const std::vector<std::string>& lines) {
  p.prompt = p.problem + "\n" + eval::kMathInstruction;
  p.solution = "<think>\n";
  for (size_t i = 0; i < lines.size(); ++i) p.solution += (i ? "\n" : "") + lines[i];
  p.solution += "\n</think>\n\n" + p.expression + " = \\boxed{" + s(p.answer) + "}";
}

// neg, div and mul3: one operation, typed as people type it.
ArithProblem make_more_problem(ArithKind kind, ArithOp op, int64_t a, int64_t b, SplitMix64& rng) {
  ArithProblem p;
  p.kind = kind;
  p.op = op;
  p.a = a;
  p.b = b;
  p.canonical = canonical_of(kind, op, a, b);
  p.expression = expression(op, a, b);
  p.problem = typed(plain_text(op, a, b, rng), rng);
  std::vector<std::string> lines = {p.expression};
  const int64_t result =
      kind == ArithKind::Neg ? neg_lines(a, b, lines) : step_lines(op, a, b, lines);
  p.answer = apply(op, a, b);
  R1_ASSERT(result == p.answer);
  lines.push_back("So " + p.expression + " = " + s(result) + ".");
  finish_problem(p, lines);
  return p;
}

ArithProblem make_expr_problem(const ExprDraw& e, SplitMix64& rng) {
  ArithProblem p;
  p.kind = ArithKind::Expr;
  p.canonical = "expr:" + e.text;
  p.expression = e.text;
  p.answer = e.value;
  switch (rng.uniform(0, 4)) {
    case 0:
      p.problem = "What is " + e.text + "?";
      break;
    case 1:
      p.problem = "Compute " + e.text + ".";
      break;
    case 2:
      p.problem = e.text + " = ?";
      break;
    case 3:
      p.problem = e.text + "?";  // as typed into a chat box: "(12 + 7) * 3 - 4?"
      break;
    default:
      p.problem = "Calculate " + e.text + ".";
  }
  p.problem = typed(p.problem, rng);
  std::vector<std::string> lines = {e.text};
  for (size_t k = 0; k < e.steps.size(); ++k) {
    const auto& st = e.steps[k];
    lines.push_back("Step " + s(static_cast<int64_t>(k + 1)) + ": " +
                    expression(st.op, st.x, st.y));
    const int64_t r = step_lines(st.op, st.x, st.y, lines);
    lines.push_back("So " + expression(st.op, st.x, st.y) + " = " + s(r) + ".");
  }
  lines.push_back("So " + e.text + " = " + s(e.value) + ".");
  finish_problem(p, lines);
  return p;
}

}  // namespace

ArithProblem make_arith_problem(ArithKind kind, ArithOp op, int64_t a, int64_t b, SplitMix64& rng) {
  if (kind == ArithKind::Neg || kind == ArithKind::Div || kind == ArithKind::Mul3) {
    R1_ASSERT(a >= 0 && b >= 0 && a <= 9999 && b <= 9999);
    if (kind == ArithKind::Neg) R1_ASSERT(op == ArithOp::Sub && a < b);
    if (kind == ArithKind::Div) R1_ASSERT(op == ArithOp::Div && b >= 2 && b <= 9 && a % b == 0);
    if (kind == ArithKind::Mul3) R1_ASSERT(op == ArithOp::Mul && a <= 999 && b <= 999);
    return make_more_problem(kind, op, a, b, rng);
  }
  R1_ASSERT(kind != ArithKind::Expr);  // expressions come from generate_arithmetic
  R1_ASSERT(a >= 0 && b >= 0 && a <= 9999 && b <= 9999);
  if (kind == ArithKind::Add) R1_ASSERT(op == ArithOp::Add);
  if (kind == ArithKind::Sub) R1_ASSERT(op == ArithOp::Sub);
  if (kind == ArithKind::Mul) R1_ASSERT(op == ArithOp::Mul);
  if (op == ArithOp::Sub) R1_ASSERT(a >= b);
  if (op == ArithOp::Mul)
    R1_ASSERT((b < 10 && a <= 999) || (a >= 10 && a <= 99 && b >= 10 && b <= 99));

  ArithProblem p;
  p.kind = kind;
  p.op = op;
  p.a = a;
  p.b = b;
  p.answer = apply(op, a, b);
  p.canonical = canonical_of(kind, op, a, b);
  const std::string expr = expression(op, a, b);
  p.expression = expr;
  std::vector<std::string> lines;
  if (kind == ArithKind::Word) {
    WordText w = word_text(op, a, b, rng);
    p.problem = std::move(w.problem);
    lines.push_back(w.cue + ": " + expr);
  } else {
    p.problem = plain_text(op, a, b, rng);
    lines.push_back(expr);
  }
  int64_t result = 0;
  switch (op) {
    case ArithOp::Add:
      result = add_columns(a, b, lines);
      break;
    case ArithOp::Sub:
      result = sub_columns(a, b, lines);
      break;
    case ArithOp::Mul:
      result = mul_lines(a, b, lines);
      break;
    case ArithOp::Div:
      R1_ASSERT(false);
  }
  R1_ASSERT(result == p.answer);
  lines.push_back("So " + expr + " = " + s(result) + ".");

  p.prompt = p.problem + "\n" + eval::kMathInstruction;
  p.solution = "<think>\n";
  for (size_t i = 0; i < lines.size(); ++i) p.solution += (i ? "\n" : "") + lines[i];
  p.solution += "\n</think>\n\n" + expr + " = \\boxed{" + s(result) + "}";
  return p;
}

std::vector<ArithProblem> generate_arithmetic(size_t n, const ArithOptions& options) {
  std::vector<ArithKind> cycle;
  for (const auto& [kind, weight] : options.kinds) {
    R1_ASSERT(weight >= 1);
    for (int k = 0; k < weight; ++k) cycle.push_back(kind);
  }
  if (cycle.empty()) fail_usage("no problem kinds selected");
  SplitMix64 rng(options.seed);
  std::vector<ArithProblem> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < n; ++i) {
    const ArithKind kind = cycle[i % cycle.size()];
    // About one problem in ten is in the test split; a run of 10000 misses in a row means the
    // kind has no distinct problems left in this split.
    for (int attempt = 0;; ++attempt) {
      if (attempt == 10000)
        fail_usage("cannot draw ", n, " distinct ", kind_name(kind),
                   " problems in this split (got ", i, "); ask for fewer");
      if (kind == ArithKind::Expr) {
        ExprDraw e;
        if (!draw_expr(rng, &e)) continue;
        const std::string canonical = "expr:" + e.text;
        if (split_of(canonical) != options.split) continue;
        if (options.distinct && !seen.insert(canonical).second) continue;
        out.push_back(make_expr_problem(e, rng));
        break;
      }
      const Operands o = draw_operands(kind, rng);
      const std::string canonical = canonical_of(kind, o.op, o.a, o.b);
      if (split_of(canonical) != options.split) continue;
      if (options.distinct && !seen.insert(canonical).second) continue;
      out.push_back(make_arith_problem(kind, o.op, o.a, o.b, rng));
      break;
    }
  }
  return out;
}

std::string sft_row(const ArithProblem& p) {
  nlohmann::ordered_json j;
  j["messages"] = nlohmann::ordered_json::array({{{"role", "user"}, {"content", p.prompt}},
                                                 {{"role", "assistant"}, {"content", p.solution}}});
  j["answer"] = std::to_string(p.answer);
  return j.dump() + "\n";
}

std::string eval_row(const ArithProblem& p) {
  nlohmann::ordered_json j;
  j["problem"] = p.problem;
  j["answer"] = std::to_string(p.answer);
  j["unique_id"] = p.canonical;
  return j.dump() + "\n";
}

std::string text_row(const ArithProblem& p, bool worked, bool r1_zero_template) {
  // The reasoning lines of the solution, between "<think>\n" and "\n</think>"; its last line is
  // "So a op b = N."; the part after the reasoning is "a op b = \boxed{N}".
  const size_t open = p.solution.find("<think>\n") + 8, close = p.solution.find("\n</think>");
  std::string reply;
  if (worked) {
    reply = p.solution.substr(open, close - open);
  } else {
    const size_t eq = p.solution.rfind(" = \\boxed{");
    const size_t start = p.solution.rfind('\n', eq) + 1;
    reply = p.solution.substr(start, eq - start) + " = " + std::to_string(p.answer) + ".";
  }
  nlohmann::ordered_json j;
  j["text"] =
      (r1_zero_template ? eval::r1_zero_prompt(p.problem) : "User: " + p.problem + ". Assistant:") +
      " " + reply;
  return j.dump() + "\n";
}

size_t approx_tokens(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) {
      while (i < text.size() &&
             ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z')))
        ++i;
      ++n;
    } else if (c == ' ') {
      ++i;
    } else if (c >= 0x80) {  // one UTF-8 character ("×")
      ++i;
      while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
      ++n;
    } else {
      ++i;
      ++n;
    }
  }
  return n;
}

}  // namespace r1::tasks
