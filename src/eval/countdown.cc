#include "eval/countdown.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <numeric>

#include "eval/loaders.h"
#include "eval/math_answer.h"

namespace r1::eval {

namespace {

// A fraction of 64-bit integers, reduced, denominator > 0. Arithmetic in 128 bits; a result that
// does not fit 64 bits is an overflow (an equation of countdown numbers never needs one).
struct Frac {
  int64_t n = 0, d = 1;
};

bool make_frac(__int128 n, __int128 d, Frac* out) {
  if (d < 0) n = -n, d = -d;
  __int128 a = n < 0 ? -n : n, b = d;
  while (b != 0) {
    const __int128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) n /= a, d /= a;
  if (n > INT64_MAX || n < INT64_MIN || d > INT64_MAX) return false;
  *out = {static_cast<int64_t>(n), static_cast<int64_t>(d)};
  return true;
}

// Recursive descent over: expr = term (('+'|'-') term)*; term = unary (('*'|'/') unary)*;
// unary = '-' unary | primary; primary = integer | '(' expr ')'.
class Parser {
 public:
  explicit Parser(std::string s) : s_(std::move(s)) {}

  bool parse(Frac* value, std::vector<int64_t>* used, std::string* why) {
    used_ = used;
    if (!expr(value, 0) || (skip(), pos_ != s_.size())) {
      *why = why_.empty() ? "not an equation of numbers and + - * / ( )" : why_;
      return false;
    }
    return true;
  }

 private:
  static constexpr int kMaxDepth = 64;

  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool fail(const char* why) {
    if (why_.empty()) why_ = why;
    return false;
  }

  bool expr(Frac* v, int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    if (!term(v, depth)) return false;
    for (;;) {
      const bool plus = eat('+');
      if (!plus && !eat('-')) return true;
      Frac r;
      if (!term(&r, depth)) return false;
      const __int128 n =
          static_cast<__int128>(v->n) * r.d + (plus ? 1 : -1) * static_cast<__int128>(r.n) * v->d;
      if (!make_frac(n, static_cast<__int128>(v->d) * r.d, v)) return fail("overflow");
    }
  }

  bool term(Frac* v, int depth) {
    if (!unary(v, depth)) return false;
    for (;;) {
      const bool times = eat('*');
      if (!times && !eat('/')) return true;
      Frac r;
      if (!unary(&r, depth)) return false;
      if (!times && r.n == 0) return fail("division by zero");
      const __int128 n = static_cast<__int128>(v->n) * (times ? r.n : r.d);
      const __int128 d = static_cast<__int128>(v->d) * (times ? r.d : r.n);
      if (!make_frac(n, d, v)) return fail("overflow");
    }
  }

  bool unary(Frac* v, int depth) {
    if (eat('-')) {
      if (depth > kMaxDepth) return fail("nested too deeply");
      if (!unary(v, depth + 1)) return false;
      v->n = -v->n;
      return true;
    }
    return primary(v, depth);
  }

  bool primary(Frac* v, int depth) {
    if (eat('(')) {
      if (!expr(v, depth + 1)) return false;
      return eat(')') || fail("unbalanced parentheses");
    }
    skip();
    const size_t start = pos_;
    int64_t x = 0;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
      if (x > (INT64_MAX - 9) / 10) return fail("number too large");
      x = x * 10 + (s_[pos_++] - '0');
    }
    if (pos_ == start) return fail("expected a number or '('");
    used_->push_back(x);
    *v = {x, 1};
    return true;
  }

  std::string s_;
  size_t pos_ = 0;
  std::vector<int64_t>* used_ = nullptr;
  std::string why_;
};

// The operators people and models write, as the parser's ASCII.
std::string normalize(std::string_view e) {
  static const std::pair<std::string_view, std::string_view> kSpellings[] = {
      {"\\times", "*"},
      {"\\cdot", "*"},
      {"\xc3\x97", "*"} /* × */,
      {"\\div", "/"},
      {"\xc3\xb7", "/"} /* ÷ */,
      {"\\left", ""},
      {"\\right", ""},
      {"$", ""},
      {"\\(", ""},
      {"\\)", ""}};
  std::string s(e);
  for (const auto& [from, to] : kSpellings)
    for (size_t k = s.find(from); k != std::string::npos; k = s.find(from, k)) {
      s.replace(k, from.size(), to);
      k += to.size();
    }
  return s;
}

// The last answer span: \boxed{...} or <answer>...</answer>, whichever comes last.
std::string find_answer(std::string_view text) {
  const size_t tag = text.rfind("<answer>");
  const size_t box = text.rfind("\\boxed{");
  if (tag != std::string_view::npos && (box == std::string_view::npos || tag > box)) {
    const size_t end = text.find("</answer>", tag);
    if (end == std::string_view::npos) return "";
    return std::string(text.substr(tag + 8, end - tag - 8));
  }
  return last_boxed(text);
}

}  // namespace

std::string countdown_prompt(const std::vector<int64_t>& numbers, int64_t target) {
  std::string list;
  for (size_t i = 0; i < numbers.size(); ++i) list += (i ? ", " : "") + std::to_string(numbers[i]);
  return "Using the numbers " + list + ", write an equation that equals " + std::to_string(target) +
         ". You may use +, -, *, / and parentheses, and each number at most once.\n" +
         kMathInstruction;
}

bool evaluate_countdown(std::string_view equation, int64_t* num, int64_t* den,
                        std::vector<int64_t>* used, std::string* why) {
  Frac v;
  Parser p(normalize(equation));
  used->clear();
  if (!p.parse(&v, used, why)) return false;
  *num = v.n;
  *den = v.d;
  return true;
}

CountdownGrade grade_countdown(std::string_view completion, const std::vector<int64_t>& numbers,
                               int64_t target) {
  CountdownGrade g;
  std::string answer = find_answer(strip_reasoning(completion));
  const size_t a = answer.find_first_not_of(" \t\n"), b = answer.find_last_not_of(" \t\n.");
  if (a == std::string::npos) return g;
  answer = answer.substr(a, b - a + 1);
  g.equation = answer;
  // "expression = value": the value must be the expression's.
  std::string expr = answer, stated;
  if (const size_t eq = answer.rfind('='); eq != std::string::npos) {
    expr = answer.substr(0, eq);
    stated = answer.substr(eq + 1);
  }
  int64_t n = 0, d = 1;
  std::vector<int64_t> used;
  if (!evaluate_countdown(expr, &n, &d, &used, &g.why)) {
    // A well-formed equation that divides by zero is wrong, not malformed.
    g.reward = g.why == "division by zero" ? 0.1 : 0.0;
    return g;
  }
  g.reward = 0.1;
  if (!stated.empty()) {
    int64_t sn = 0, sd = 1;
    std::vector<int64_t> none;
    std::string why;
    if (!evaluate_countdown(stated, &sn, &sd, &none, &why)) {
      g.reward = 0.0;
      g.why = "the value after '=' is not a number";
      return g;
    }
    if (sn != n || sd != d) {
      g.why = "the stated value is not the equation's";
      return g;
    }
  }
  std::map<int64_t, int> left;
  for (int64_t x : numbers) ++left[x];
  for (int64_t x : used)
    if (--left[x] < 0) {
      g.why = "uses " + std::to_string(x) + " more often than given";
      return g;
    }
  if (d != 1 || n != target) {
    g.why = "equals " + std::to_string(n) + (d != 1 ? "/" + std::to_string(d) : "") + ", not " +
            std::to_string(target);
    return g;
  }
  g.reward = 1.0;
  g.why.clear();
  return g;
}

}  // namespace r1::eval
