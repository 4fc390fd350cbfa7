#include "eval/math_equiv.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <complex>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "eval/math_answer.h"
#include "eval/math_expr.h"

namespace r1::eval {

namespace {

using Kind = MathNode::Kind;
using i128 = __int128;
using Complex = std::complex<long double>;

// An exact rational with 128-bit parts; d > 0 and gcd(n, d) = 1.
struct Rat {
  i128 n = 0, d = 1;
  bool operator==(const Rat& o) const { return n == o.n && d == o.d; }
};

i128 abs128(i128 x) {
  return x < 0 ? -x : x;
}
i128 gcd128(i128 a, i128 b) {
  a = abs128(a);
  b = abs128(b);
  while (b != 0) {
    i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

std::optional<Rat> make_rat(i128 n, i128 d) {
  if (d == 0) return std::nullopt;
  if (d < 0) n = -n, d = -d;
  i128 g = gcd128(n, d);
  if (g > 1) n /= g, d /= g;
  return Rat{n, d};
}
std::optional<Rat> rat_add(Rat a, Rat b) {
  i128 x, y, d;
  if (__builtin_mul_overflow(a.n, b.d, &x) || __builtin_mul_overflow(b.n, a.d, &y) ||
      __builtin_add_overflow(x, y, &x) || __builtin_mul_overflow(a.d, b.d, &d))
    return std::nullopt;
  return make_rat(x, d);
}
std::optional<Rat> rat_mul(Rat a, Rat b) {
  i128 n, d;
  if (__builtin_mul_overflow(a.n, b.n, &n) || __builtin_mul_overflow(a.d, b.d, &d))
    return std::nullopt;
  return make_rat(n, d);
}
std::optional<Rat> rat_inv(Rat a) {
  return make_rat(a.d, a.n);
}

// The exact k-th root of a non-negative integer, if it has one.
std::optional<i128> int_root(i128 x, int k) {
  if (x < 0) return std::nullopt;
  long double guess = std::pow(static_cast<long double>(x), 1.0L / k);
  for (i128 r = static_cast<i128>(guess) - 1; r <= static_cast<i128>(guess) + 1; ++r) {
    if (r < 0) continue;
    i128 p = 1;
    bool overflow = false;
    for (int i = 0; i < k && !overflow; ++i) overflow = __builtin_mul_overflow(p, r, &p);
    if (!overflow && p == x) return r;
  }
  return std::nullopt;
}

struct Num {
  bool ok = false;
  bool exact = false;
  Rat q;
  Complex z;
};
Num exact(Rat q) {
  return {true, true, q, Complex(static_cast<long double>(q.n) / static_cast<long double>(q.d))};
}
Num approx(Complex z) {
  if (std::isnan(z.real()) || std::isnan(z.imag())) return {};
  return {true, false, {}, z};
}
Num from(std::optional<Rat> q, Complex fallback) {
  return q ? exact(*q) : approx(fallback);
}

Num add(const Num& a, const Num& b) {
  if (!a.ok || !b.ok) return {};
  if (a.exact && b.exact) return from(rat_add(a.q, b.q), a.z + b.z);
  return approx(a.z + b.z);
}
Num neg(const Num& a) {
  if (!a.ok) return {};
  return a.exact ? exact({-a.q.n, a.q.d}) : approx(-a.z);
}
Num mul(const Num& a, const Num& b) {
  if (!a.ok || !b.ok) return {};
  if (a.exact && b.exact) return from(rat_mul(a.q, b.q), a.z * b.z);
  return approx(a.z * b.z);
}
Num div(const Num& a, const Num& b) {
  if (!a.ok || !b.ok) return {};
  if (b.exact) {
    if (b.q.n == 0) return {};
    auto inv = rat_inv(b.q);
    return a.exact ? from(rat_mul(a.q, *inv), a.z / b.z) : approx(a.z / b.z);
  }
  if (std::abs(b.z) == 0) return {};
  return approx(a.z / b.z);
}

// x^(p/q) for exact x and a small exact rational exponent, when the result is rational.
std::optional<Rat> exact_pow(Rat x, Rat e) {
  if (e.d > 12 || abs128(e.n) > 256) return std::nullopt;
  int q = static_cast<int>(e.d);
  Rat base = x;
  if (q > 1) {
    if (x.n < 0) return std::nullopt;
    auto rn = int_root(x.n, q), rd = int_root(x.d, q);
    if (!rn || !rd) return std::nullopt;
    base = Rat{*rn, *rd};
  }
  i128 p = abs128(e.n);
  Rat result{1, 1};
  for (i128 i = 0; i < p; ++i) {
    auto r = rat_mul(result, base);
    if (!r) return std::nullopt;
    result = *r;
  }
  if (e.n < 0) return rat_inv(result);
  return result;
}

Num power(const Num& a, const Num& b) {
  if (!a.ok || !b.ok) return {};
  if (a.exact && b.exact) {
    if (a.q.n == 0 && b.q.n <= 0) return {};
    if (auto r = exact_pow(a.q, b.q)) return exact(*r);
  }
  if (std::abs(a.z) == 0) return b.z.real() > 0 ? exact({0, 1}) : Num{};
  // Real odd roots of negative reals stay real: (-8)^(1/3) = -2.
  if (b.exact && a.z.imag() == 0 && a.z.real() < 0 && b.q.d % 2 == 1) {
    long double mag = std::pow(-a.z.real(), static_cast<long double>(b.z.real()));
    return approx(Complex(b.q.n % 2 == 0 ? mag : -mag));
  }
  if (b.exact && b.q.d == 1 && abs128(b.q.n) <= 1024) {
    Complex r = std::pow(a.z, static_cast<int>(b.q.n));
    return approx(r);
  }
  return approx(std::pow(a.z, b.z));
}

Num parse_number_plain(const std::string& text);

// "I.A(R)": a repeating decimal I.ARRR... = (IAR - IA) / (10^|A| (10^|R| - 1)).
Num parse_repeating(const std::string& text) {
  size_t open = text.find('('), dot = text.find('.');
  std::string head = text.substr(0, open);                          // "I.A"
  std::string rep = text.substr(open + 1, text.size() - open - 2);  // "R"
  size_t a_len = open - dot - 1;
  if (head.size() + rep.size() > 30) return {};
  std::string ia = head.substr(0, dot) + head.substr(dot + 1);
  auto to_int = [](const std::string& d) {
    i128 v = 0;
    for (char c : d) v = v * 10 + (c - '0');
    return v;
  };
  i128 den = 1;
  for (size_t i = 0; i < rep.size(); ++i) den *= 10;
  den -= 1;
  for (size_t i = 0; i < a_len; ++i) den *= 10;
  auto q = make_rat(to_int(ia + rep) - to_int(ia), den);
  return q ? exact(*q) : Num{};
}

Num parse_number(const std::string& text) {
  if (text.find('(') != std::string::npos) return parse_repeating(text);
  return parse_number_plain(text);
}

Num parse_number_plain(const std::string& text) {
  // mantissa digits, decimals, exponent
  std::string digits;
  int decimals = 0;
  bool after_point = false;
  size_t i = 0;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      after_point = true;
    } else {
      digits += text[i];
      if (after_point) ++decimals;
    }
  }
  int exp10 = 0;
  if (i < text.size()) exp10 = std::atoi(text.c_str() + i + 1);
  exp10 -= decimals;
  size_t first = digits.find_first_not_of('0');
  std::string sig = first == std::string::npos ? "0" : digits.substr(first);
  if (sig.size() > 30 || exp10 > 30 || exp10 < -30)
    return approx(Complex(std::strtold(text.c_str(), nullptr)));
  i128 n = 0;
  for (char c : sig) n = n * 10 + (c - '0');
  i128 scale = 1;
  for (int k = 0; k < std::abs(exp10); ++k) scale *= 10;
  if (exp10 >= 0) {
    i128 m;
    if (__builtin_mul_overflow(n, scale, &m))
      return approx(Complex(std::strtold(text.c_str(), nullptr)));
    return exact({m, 1});
  }
  return exact(*make_rat(n, scale));
}

using Env = std::map<std::string, Rat>;

Num evaluate(const MathNode& n, const Env& env);

Num func(const MathNode& n, const Env& env) {
  const std::string& f = n.text;
  Num a = evaluate(n.kids[0], env);
  if (!a.ok) return {};
  if (f == "sqrt") return power(a, exact({1, 2}));
  if (f == "root") {
    Num index = evaluate(n.kids[1], env);
    if (!index.ok || !index.exact || index.q.n == 0) return {};
    return power(a, exact(*rat_inv(index.q)));
  }
  if (f == "abs") return a.exact ? exact({abs128(a.q.n), a.q.d}) : approx(std::abs(a.z));
  if (f == "binom") {  // C(a, k) = a (a-1) ... (a-k+1) / k! for integer k, any a
    Num b = evaluate(n.kids[1], env);
    if (!b.ok || !b.exact || b.q.d != 1 || b.q.n < 0 || b.q.n > 64) return {};
    Num r = exact({1, 1});
    for (i128 i = 0; i < b.q.n; ++i) r = div(mul(r, add(a, exact({-i, 1}))), exact({i + 1, 1}));
    return r;
  }
  if (f == "fact") {
    if (!a.exact || a.q.d != 1 || a.q.n < 0 || a.q.n > 33) return {};
    auto factorial = [](i128 k) {
      i128 r = 1;
      for (i128 i = 2; i <= k; ++i) r *= i;
      return r;
    };
    return exact({factorial(a.q.n), 1});
  }
  if (f == "floor" || f == "ceil") {
    if (a.z.imag() != 0) return {};
    long double v = f == "floor" ? std::floor(a.z.real()) : std::ceil(a.z.real());
    return exact({static_cast<i128>(v), 1});
  }
  Complex z = a.z;
  if (f == "sin") return approx(std::sin(z));
  if (f == "cos") return approx(std::cos(z));
  if (f == "tan") return approx(std::tan(z));
  if (f == "cot") return approx(1.0L / std::tan(z));
  if (f == "sec") return approx(1.0L / std::cos(z));
  if (f == "csc") return approx(1.0L / std::sin(z));
  if (f == "sinh") return approx(std::sinh(z));
  if (f == "cosh") return approx(std::cosh(z));
  if (f == "tanh") return approx(std::tanh(z));
  if (f == "arcsin") return approx(std::asin(z));
  if (f == "arccos") return approx(std::acos(z));
  if (f == "arctan") return approx(std::atan(z));
  if (f == "exp") return approx(std::exp(z));
  if (std::abs(z) == 0) return {};
  if (f == "ln") return approx(std::log(z));
  if (f == "log") {
    if (n.kids.size() < 2) return approx(std::log(z));  // unbased log: natural, on both sides
    Num base = evaluate(n.kids[1], env);
    if (!base.ok || std::abs(base.z) == 0) return {};
    return approx(std::log(z) / std::log(base.z));
  }
  return {};
}

Num evaluate(const MathNode& n, const Env& env) {
  switch (n.kind) {
    case Kind::Number:
      return parse_number(n.text);
    case Kind::Var: {
      auto it = env.find(n.text);
      return it == env.end() ? Num{} : exact(it->second);
    }
    case Kind::Pi:
      return approx(Complex(3.141592653589793238462643383279502884L));
    case Kind::Imag:
      return approx(Complex(0, 1));
    case Kind::Infinity:
      return approx(Complex(INFINITY, 0));
    case Kind::Add:
      return add(evaluate(n.kids[0], env), evaluate(n.kids[1], env));
    case Kind::Sub:
      return add(evaluate(n.kids[0], env), neg(evaluate(n.kids[1], env)));
    case Kind::Mul:
      return mul(evaluate(n.kids[0], env), evaluate(n.kids[1], env));
    case Kind::Div:
      return div(evaluate(n.kids[0], env), evaluate(n.kids[1], env));
    case Kind::Pow:
      return power(evaluate(n.kids[0], env), evaluate(n.kids[1], env));
    case Kind::Neg:
      return neg(evaluate(n.kids[0], env));
    case Kind::Func:
      return func(n, env);
    case Kind::Percent:
      return div(evaluate(n.kids[0], env), exact({100, 1}));
    default:
      return {};
  }
}

bool num_equal(const Num& a, const Num& b) {
  if (!a.ok || !b.ok) return false;
  if (a.exact && b.exact) return a.q == b.q;
  bool inf_a = std::isinf(a.z.real()) || std::isinf(a.z.imag());
  bool inf_b = std::isinf(b.z.real()) || std::isinf(b.z.imag());
  if (inf_a || inf_b) {
    return inf_a && inf_b && a.z.real() == b.z.real() && !std::isinf(a.z.imag()) &&
           !std::isinf(b.z.imag());
  }
  long double diff = std::abs(a.z - b.z);
  long double scale = std::max(std::abs(a.z), std::abs(b.z));
  return diff <= 1e-8L * scale || diff <= 1e-14L;
}

void collect_vars(const MathNode& n, std::set<std::string>& out) {
  if (n.kind == Kind::Var) out.insert(n.text);
  for (const auto& k : n.kids) collect_vars(k, out);
}

// The value of variable number k at sample point p: distinct positive rationals, never 0 or 1.
Rat sample_value(size_t k, size_t p) {
  return *make_rat(static_cast<i128>(7 + 6 * k + 11 * p), static_cast<i128>(3 + (k + 2 * p) % 7));
}

constexpr size_t kPoints = 6;

std::vector<Env> sample_envs(const MathNode& a, const MathNode& b) {
  std::set<std::string> vars;
  collect_vars(a, vars);
  collect_vars(b, vars);
  if (vars.size() > 10) return {};
  std::vector<Env> envs(vars.empty() ? 1 : kPoints);
  for (size_t p = 0; p < envs.size(); ++p) {
    size_t k = 0;
    for (const auto& v : vars) envs[p][v] = sample_value(k++, p);
  }
  return envs;
}

MathNode make_binary(Kind k, const MathNode& a, const MathNode& b) {
  MathNode n;
  n.kind = k;
  n.kids = {a, b};
  return n;
}

bool has_decimal(const MathNode& n) {
  if (n.kind == Kind::Number && n.text.find('.') != std::string::npos) return true;
  for (const auto& k : n.kids)
    if (has_decimal(k)) return true;
  return false;
}

// Two values rounded to `places` decimals are the same number.
bool rounded_equal(const Num& x, const Num& y, int places) {
  if (!x.ok || !y.ok) return false;
  long double tol = std::pow(10.0L, -places);
  if (std::abs(x.z.imag()) > tol || std::abs(y.z.imag()) > tol) return num_equal(x, y);
  long double a = x.z.real(), b = y.z.real();
  if (!std::isfinite(a) || !std::isfinite(b)) return num_equal(x, y);
  long double scale = std::pow(10.0L, places);
  if (std::abs(a) * scale > 1e17L || std::abs(b) * scale > 1e17L)
    return std::abs(a - b) <= tol * std::max(std::abs(a), std::abs(b));
  return std::round(a * scale) == std::round(b * scale);
}

// A one-row or one-column matrix as a flat list of its entries.
std::optional<std::vector<MathNode>> matrix_as_vector(const MathNode& m) {
  if (m.kids.size() == 1) return m.kids[0].kids;
  std::vector<MathNode> out;
  for (const auto& row : m.kids) {
    if (row.kids.size() != 1) return std::nullopt;
    out.push_back(row.kids[0]);
  }
  return out;
}

bool text_equal(const std::string& a, const std::string& b) {
  auto clean = [](const std::string& s) {
    std::string out;
    for (char c : s)
      if (!std::isspace(static_cast<unsigned char>(c)))
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  return clean(a) == clean(b);
}

// A relation with '>' and '\ge' turned around ("b > a" is "a < b"), and an assignment chain
// "x = 5 + 6 = 11" cut to its ends "x = 11".
MathNode canonical_relation(const MathNode& r) {
  MathNode c = r;
  if (c.text.find_first_not_of(">g") == std::string::npos) {
    std::reverse(c.kids.begin(), c.kids.end());
    std::reverse(c.text.begin(), c.text.end());
    for (char& op : c.text) op = op == '>' ? '<' : 'l';
  }
  if (c.kids.size() > 2 && c.text.find_first_not_of('=') == std::string::npos &&
      names_only(c.kids[0])) {
    c.kids = {c.kids.front(), c.kids.back()};
    c.text = "=";
  }
  return c;
}

bool no_variables(const MathNode& n) {
  if (n.kind == Kind::Var || n.kind == Kind::Text) return false;
  for (const auto& k : n.kids)
    if (!no_variables(k)) return false;
  return true;
}

// The comparison, with the gold answer always on the left (a few rules are one-sided).
class Compare {
 public:
  explicit Compare(const MathGradeOptions& o) : o_(o) {}

  bool equiv(const MathNode& a, const MathNode& b) const {
    if (a.kind == Kind::Relation || b.kind == Kind::Relation) return relation_equiv(a, b);
    if (a.kind == Kind::Text || b.kind == Kind::Text)
      return a.kind == b.kind && text_equal(a.text, b.text);
    if (a.kind == Kind::Union || b.kind == Kind::Union)
      return a.kind == b.kind && set_equal(a.kids, b.kids);
    if (a.kind == Kind::Matrix && b.kind == Kind::Matrix) {
      if (a.kids.size() != b.kids.size()) return false;
      for (size_t r = 0; r < a.kids.size(); ++r)
        if (!ordered_equal(a.kids[r].kids, b.kids[r].kids)) return false;
      return true;
    }
    if (a.kind == Kind::Matrix || b.kind == Kind::Matrix) {
      const MathNode& m = a.kind == Kind::Matrix ? a : b;
      const MathNode& other = a.kind == Kind::Matrix ? b : a;
      if (other.kind != Kind::Tuple && other.kind != Kind::List) return false;
      auto flat = matrix_as_vector(m);
      return flat && (a.kind == Kind::Matrix ? ordered_equal(*flat, other.kids)
                                             : ordered_equal(other.kids, *flat));
    }
    if (a.kind == Kind::Tuple && b.kind == Kind::Tuple)
      return a.open == b.open && a.close == b.close && ordered_equal(a.kids, b.kids);
    bool coll_a = a.kind == Kind::Set || a.kind == Kind::List;
    bool coll_b = b.kind == Kind::Set || b.kind == Kind::List;
    // A list or set against a tuple: element-wise in order when the tuple is "(...)" (an open
    // interval "(1, 3)" and the pair {1, 3} read alike, as in Math-Verify).
    if ((a.kind == Kind::Tuple && coll_b) || (coll_a && b.kind == Kind::Tuple)) {
      const MathNode& t = a.kind == Kind::Tuple ? a : b;
      if (t.open != '(' || t.close != ')') return false;
      return ordered_equal(a.kids, b.kids);
    }
    if (coll_a && coll_b) return set_equal(a.kids, b.kids);
    if (coll_a || coll_b) return collection_vs_single(a, b);
    if (is_structure(a) || is_structure(b)) return false;
    return scalar_equal(a, b);
  }

 private:
  const MathGradeOptions& o_;

  bool ordered_equal(const std::vector<MathNode>& a, const std::vector<MathNode>& b) const {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!equiv(a[i], b[i])) return false;
    return true;
  }

  // Set equality: repeats count once; every element of each side has an equal one on the other.
  bool set_equal(const std::vector<MathNode>& a, const std::vector<MathNode>& b) const {
    if (a.empty() != b.empty()) return false;
    for (const auto& x : a)
      if (std::none_of(b.begin(), b.end(), [&](const MathNode& y) { return equiv(x, y); }))
        return false;
    for (const auto& y : b)
      if (std::none_of(a.begin(), a.end(), [&](const MathNode& x) { return equiv(x, y); }))
        return false;
    return true;
  }

  // A set or list against a single answer: every element is that answer ({x} and the repeated
  // "15\frac{39}{40}, \frac{639}{40}" are one value); "1,22" against 1.22 reads a decimal comma.
  bool collection_vs_single(const MathNode& a, const MathNode& b) const {
    bool coll_a = a.kind == Kind::Set || a.kind == Kind::List;
    const MathNode& c = coll_a ? a : b;
    const MathNode& other = coll_a ? b : a;
    if (!c.kids.empty() && std::all_of(c.kids.begin(), c.kids.end(), [&](const MathNode& k) {
          return coll_a ? equiv(k, other) : equiv(other, k);
        }))
      return true;
    if (c.kind == Kind::List && c.kids.size() == 2 && other.kind == Kind::Number) {
      const std::string& i = c.kids[0].text;
      const std::string& f = c.kids[1].text;
      auto digits = [](const std::string& s) {
        return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
      };
      if (c.kids[0].kind == Kind::Number && c.kids[1].kind == Kind::Number && digits(i) &&
          digits(f)) {
        MathNode decimal;
        decimal.kind = Kind::Number;
        decimal.text = i + "." + f;
        return scalar_equal(decimal, other);
      }
    }
    return false;
  }

  bool relation_equiv(const MathNode& a, const MathNode& b) const {
    if (a.kind == Kind::Relation && b.kind == Kind::Relation) return relation_equal(a, b);
    bool rel_a = a.kind == Kind::Relation;
    MathNode r = canonical_relation(rel_a ? a : b);
    const MathNode& other = rel_a ? b : a;
    bool all_equal = r.text.find_first_not_of('=') == std::string::npos;
    // "x = 11", "(p, q) = (3, 2)", "|AB| = 1", "3 + 4 = 7", a chain "a = b = 0": the last side
    // is the answer. (Math-Verify also takes the last side of a predicted "2x + z = 1" against
    // 1; r1 does not: that equation does not say what the answer's value is.)
    if (all_equal && (names_only(r.kids[0]) || no_variables(r) || r.kids.size() > 2)) {
      return rel_a ? equiv(r.kids.back(), other) : equiv(other, r.kids.back());
    }
    // "-2 <= x <= 7" against "[-2, 7]": when the relation is the gold answer, or the options
    // allow a relation to answer for a set (a question asking for an interval wants one).
    if (rel_a || o_.relation_matches_set) {
      if (auto set = relation_as_set(r)) return rel_a ? equiv(*set, other) : equiv(other, *set);
    }
    return false;
  }

  bool relation_equal(const MathNode& a, const MathNode& b) const {
    MathNode x = canonical_relation(a), y = canonical_relation(b);
    if (x.text != y.text || x.kids.size() != y.kids.size()) return false;
    if (ordered_equal(x.kids, y.kids)) return true;
    if (x.kids.size() != 2) return false;
    for (const auto* n : {&x, &y})
      for (const auto& side : n->kids)
        if (is_structure(side)) return false;
    // lhs - rhs the same up to a constant factor: nonzero for = and \ne ("2x + 4y - 3 = 0" is
    // "y = -x/2 + 3/4"), positive for < and \le ("-x > -1" is "x < 1").
    return proportional(make_binary(Kind::Sub, x.kids[0], x.kids[1]),
                        make_binary(Kind::Sub, y.kids[0], y.kids[1]),
                        x.text == "<" || x.text == "l");
  }

  static bool proportional(const MathNode& da, const MathNode& db, bool positive) {
    auto envs = sample_envs(da, db);
    std::optional<Num> ratio;
    size_t valid = 0;
    for (const auto& env : envs) {
      Num x = evaluate(da, env), y = evaluate(db, env);
      if (!x.ok || !y.ok) continue;
      bool zx = num_equal(x, exact({0, 1})), zy = num_equal(y, exact({0, 1}));
      if (zx != zy) return false;
      ++valid;
      if (zx) continue;
      Num r = div(x, y);
      if (!r.ok) return false;
      if (ratio && !num_equal(*ratio, r)) return false;
      ratio = r;
    }
    if (valid < 2 || !ratio) return false;
    return !positive || (std::abs(ratio->z.imag()) < 1e-12L && ratio->z.real() > 0);
  }

  // Equal values at every sample point. A decimal against an exact value (no variables) is
  // compared rounded to o_.precision places, as Math-Verify does: 0.0833333 = 1/12 at 6 places,
  // 0.333 != 1/3. Two decimals must be equal (r1 is stricter than Math-Verify, which rounds both).
  bool scalar_equal_plain(const MathNode& a, const MathNode& b) const {
    auto envs = sample_envs(a, b);
    bool rounding = has_decimal(a) != has_decimal(b) && envs.size() == 1;
    size_t valid = 0;
    for (const auto& env : envs) {
      Num x = evaluate(a, env), y = evaluate(b, env);
      if (!x.ok || !y.ok) continue;
      bool same = rounding ? num_equal(x, y) || rounded_equal(x, y, o_.precision) : num_equal(x, y);
      if (!same) return false;
      ++valid;
    }
    return valid >= std::min<size_t>(2, envs.size()) && valid > 0;
  }

  bool scalar_equal(const MathNode& a, const MathNode& b) const {
    bool pa = a.kind == Kind::Percent, pb = b.kind == Kind::Percent;
    if (pa == pb) return scalar_equal_plain(pa ? a.kids[0] : a, pb ? b.kids[0] : b);
    const MathNode& pct = pa ? a : b;
    const MathNode& other = pa ? b : a;
    // "25%" equals 25 and 0.25
    return scalar_equal_plain(pct.kids[0], other) || scalar_equal_plain(pct, other);
  }
};

// The number of nodes of n, counting stops past `cap`.
size_t node_count(const MathNode& n, size_t cap) {
  size_t total = 1;
  for (const auto& k : n.kids) {
    if (total > cap) break;
    total += node_count(k, cap - std::min(cap, total));
  }
  return total;
}

bool has_matrix(const MathNode& n) {
  if (n.kind == Kind::Matrix) return true;
  for (const auto& k : n.kids)
    if (has_matrix(k)) return true;
  return false;
}

constexpr size_t kMaxFoldedNodes = 20000;  // products of many matrices grow exponentially

// Sums, differences, scalar multiples and products of matrices worked out entry by entry:
// "A + B" and "A B" written with \begin{pmatrix} compare as the matrix they make.
MathNode fold_matrices(const MathNode& n) {
  MathNode out = n;
  for (auto& k : out.kids) k = fold_matrices(k);
  auto is_matrix = [](const MathNode& m) { return m.kind == Kind::Matrix && !m.kids.empty(); };
  auto rows = [](const MathNode& m) { return m.kids.size(); };
  auto cols = [](const MathNode& m) { return m.kids[0].kids.size(); };
  auto map = [](const MathNode& m, auto&& f) {
    MathNode r = m;
    for (auto& row : r.kids)
      for (auto& e : row.kids) e = f(e);
    return r;
  };
  if (out.kind == Kind::Neg && is_matrix(out.kids[0]))
    return map(out.kids[0], [](const MathNode& e) {
      MathNode neg;
      neg.kind = Kind::Neg;
      neg.kids = {e};
      return neg;
    });
  if (out.kids.size() != 2) return out;
  const MathNode& a = out.kids[0];
  const MathNode& b = out.kids[1];
  bool ma = is_matrix(a), mb = is_matrix(b);
  if ((out.kind == Kind::Add || out.kind == Kind::Sub) && ma && mb && rows(a) == rows(b)) {
    MathNode r = a;
    for (size_t i = 0; i < rows(a); ++i) {
      if (a.kids[i].kids.size() != b.kids[i].kids.size()) return out;
      for (size_t j = 0; j < a.kids[i].kids.size(); ++j)
        r.kids[i].kids[j] = make_binary(out.kind, a.kids[i].kids[j], b.kids[i].kids[j]);
    }
    return r;
  }
  if (out.kind != Kind::Mul || (!ma && !mb)) return out;
  if (ma != mb) {  // a scalar times a matrix
    const MathNode& scalar = ma ? b : a;
    if (is_structure(scalar) || has_matrix(scalar)) return out;
    return map(ma ? a : b, [&](const MathNode& e) { return make_binary(Kind::Mul, scalar, e); });
  }
  if (cols(a) != rows(b) || rows(a) > 10 || cols(b) > 10 || cols(a) > 10) return out;
  MathNode r = a;
  for (size_t i = 0; i < rows(a); ++i) {
    if (a.kids[i].kids.size() != cols(a)) return out;
    r.kids[i].kids.clear();
    for (size_t j = 0; j < cols(b); ++j) {
      MathNode sum;
      for (size_t k = 0; k < cols(a); ++k) {
        if (b.kids[k].kids.size() != cols(b)) return out;
        MathNode term = make_binary(Kind::Mul, a.kids[i].kids[k], b.kids[k].kids[j]);
        sum = k == 0 ? term : make_binary(Kind::Add, sum, term);
      }
      r.kids[i].kids.push_back(sum);
    }
  }
  return node_count(r, kMaxFoldedNodes) > kMaxFoldedNodes ? out : r;
}

void rename_vars(MathNode& n, const std::map<std::string, std::string>& names) {
  if (n.kind == Kind::Var)
    if (auto it = names.find(n.text); it != names.end()) n.text = it->second;
  for (auto& k : n.kids) rename_vars(k, names);
}

bool is_word(std::string_view s) {
  if (s.size() < 2) return false;
  for (char c : s)
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != ' ') return false;
  return true;
}

}  // namespace

bool math_normalized_equal(std::string_view gold, std::string_view pred,
                           const MathGradeOptions& options) {
  if (gold == pred) return !gold.empty();
  if (gold.empty() || pred.empty()) return false;
  // Two words ("East", "ellipse") are text, not products of variables; short ones like "xy"
  // still go to the parser.
  if (is_word(gold) && is_word(pred) && std::max(gold.size(), pred.size()) >= 3)
    return text_equal(std::string(gold), std::string(pred));
  MathNode g = fold_matrices(parse_math_answer(gold));
  MathNode p = fold_matrices(parse_math_answer(pred));
  if (!options.strict) {  // the prediction's variables renamed to the gold's, in sorted order
    std::set<std::string> gv, pv;
    collect_vars(g, gv);
    collect_vars(p, pv);
    if (gv.size() == pv.size() && gv != pv) {
      std::map<std::string, std::string> names;
      for (auto gi = gv.begin(), pi = pv.begin(); gi != gv.end(); ++gi, ++pi) names[*pi] = *gi;
      rename_vars(p, names);
    }
  }
  return Compare(options).equiv(g, p);
}

bool math_answers_equal(std::string_view gold, std::string_view pred,
                        const MathGradeOptions& options) {
  return math_normalized_equal(normalize_math_answer(gold), normalize_math_answer(pred), options);
}

}  // namespace r1::eval
