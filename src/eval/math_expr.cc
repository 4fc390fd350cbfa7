#include "eval/math_expr.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace r1::eval {

namespace {

using Kind = MathNode::Kind;

// Longer answers are compared as text only: no real final answer is this long, and it bounds the
// work an adversarial completion can cause (RL rewards run on every sample).
constexpr size_t kMaxAnswerLength = 1000;

MathNode leaf(Kind k, std::string text = "") {
  MathNode n;
  n.kind = k;
  n.text = std::move(text);
  return n;
}
MathNode node(Kind k, std::vector<MathNode> kids, std::string text = "") {
  MathNode n;
  n.kind = k;
  n.kids = std::move(kids);
  n.text = std::move(text);
  return n;
}
MathNode binary(Kind k, MathNode a, MathNode b) {
  std::vector<MathNode> kids;
  kids.push_back(std::move(a));
  kids.push_back(std::move(b));
  return node(k, std::move(kids));
}
MathNode unary(Kind k, MathNode a, std::string text = "") {
  std::vector<MathNode> kids;
  kids.push_back(std::move(a));
  return node(k, std::move(kids), std::move(text));
}

bool is_letter(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

constexpr std::array<std::string_view, 33> kGreek = {
    "alpha", "beta",     "gamma", "delta",   "epsilon", "varepsilon", "zeta", "eta",
    "theta", "vartheta", "iota",  "kappa",   "lambda",  "mu",         "nu",   "xi",
    "rho",   "sigma",    "tau",   "upsilon", "phi",     "varphi",     "chi",  "psi",
    "omega", "Gamma",    "Delta", "Theta",   "Lambda",  "Sigma",      "Omega"};
// Plain-letter function names, longest first so that "sinh" wins over "sin".
constexpr std::array<std::string_view, 16> kFuncs = {
    "arcsin", "arccos", "arctan", "sqrt", "sinh", "cosh", "tanh", "sin",
    "cos",    "tan",    "cot",    "sec",  "csc",  "log",  "exp",  "ln"};

bool is_func_name(std::string_view name) {
  return std::find(kFuncs.begin(), kFuncs.end(), name) != kFuncs.end();
}
bool is_greek(std::string_view name) {
  return std::find(kGreek.begin(), kGreek.end(), name) != kGreek.end();
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::optional<MathNode> parse_all() {
    auto e = expr();
    skip_ws();
    if (!ok_ || pos_ != s_.size()) return std::nullopt;
    return e;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  bool ok_ = true;
  int abs_depth_ = 0;
  int depth_ = 0;

  MathNode fail() {
    ok_ = false;
    return leaf(Kind::Text);
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char cur() const { return at_end() ? '\0' : s_[pos_]; }

  // The name of the command at pos (without the backslash), or "" when there is none.
  std::string_view command_at(size_t p) const {
    if (p >= s_.size() || s_[p] != '\\' || p + 1 >= s_.size()) return {};
    size_t q = p + 1;
    if (!is_letter(s_[q])) return s_.substr(q, 1);
    while (q < s_.size() && is_letter(s_[q])) ++q;
    return s_.substr(p + 1, q - p - 1);
  }
  void skip_ws() {
    while (!at_end()) {
      if (std::isspace(static_cast<unsigned char>(cur()))) {
        ++pos_;
        continue;
      }
      auto c = command_at(pos_);
      if (c == "left" || c == "right" || c == "," || c == "!" || c == ";" || c == ":" || c == " " ||
          c == "quad" || c == "qquad" || c == "displaystyle") {
        pos_ += 1 + c.size();
        continue;
      }
      break;
    }
  }
  bool eat(char c) {
    skip_ws();
    if (cur() != c) return false;
    ++pos_;
    return true;
  }
  bool eat_command(std::string_view name) {
    skip_ws();
    if (command_at(pos_) != name) return false;
    pos_ += 1 + name.size();
    return true;
  }

  bool at_primary_start() {
    skip_ws();
    char c = cur();
    if (is_digit(c) || c == '.' || is_letter(c) || c == '(' || c == '[' || c == '{') return true;
    if (c == '|') return abs_depth_ == 0;
    if (c != '\\') return false;
    auto name = command_at(pos_);
    return name == "frac" || name == "sqrt" || name == "pi" || name == "infty" || name == "binom" ||
           name == "begin" || name == "lfloor" || name == "lceil" || name == "lvert" ||
           is_greek(name) || is_func_name(name);
  }

  // Bounds the recursion on adversarial input ("-----...", "((((...").
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(++d) {}
    ~DepthGuard() { --depth; }
  };
  static constexpr int kMaxDepth = 150;

  MathNode expr() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return fail();
    MathNode left = term();
    while (ok_) {
      skip_ws();
      if (eat('+')) {
        left = binary(Kind::Add, std::move(left), term());
      } else if (cur() == '-') {
        ++pos_;
        left = binary(Kind::Sub, std::move(left), term());
      } else if (eat_command("pm")) {
        left = binary(Kind::PlusMinus, std::move(left), term());
      } else if (eat_command("mp")) {
        left = binary(Kind::PlusMinus, std::move(left), term());
        left.text = "-";
      } else {
        break;
      }
    }
    return left;
  }

  MathNode term() {
    MathNode left = unary_expr();
    while (ok_) {
      skip_ws();
      if (eat('*') || eat_command("cdot") || eat_command("times")) {
        left = binary(Kind::Mul, std::move(left), unary_expr());
      } else if (eat('/') || eat_command("div")) {
        left = binary(Kind::Div, std::move(left), unary_expr());
      } else if (at_primary_start()) {
        left = binary(Kind::Mul, std::move(left), power());
      } else {
        break;
      }
    }
    return left;
  }

  MathNode unary_expr() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return fail();
    skip_ws();
    if (eat('-')) return unary(Kind::Neg, unary_expr());
    if (eat('+')) return unary_expr();
    if (eat_command("pm")) {  // a leading \pm: 0 \pm x
      auto n = binary(Kind::PlusMinus, leaf(Kind::Number, "0"), unary_expr());
      return n;
    }
    return power();
  }

  MathNode power() {
    MathNode base = postfix();
    skip_ws();
    if (ok_ && cur() == '^') {
      ++pos_;
      return binary(Kind::Pow, std::move(base), exponent());
    }
    return base;
  }

  MathNode exponent() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return fail();
    skip_ws();
    char c = cur();
    if (c == '{') return group('{', '}');
    if (is_digit(c)) return number_literal();
    if (c == '-') {
      ++pos_;
      return unary(Kind::Neg, exponent());
    }
    if (is_letter(c)) {
      ++pos_;
      return c == 'i' ? leaf(Kind::Imag) : leaf(Kind::Var, std::string(1, c));
    }
    return primary();
  }

  MathNode postfix() {
    MathNode n = primary();
    while (ok_) {
      if (cur() == '!') {
        ++pos_;
        n = unary(Kind::Func, std::move(n), "fact");
      } else if (command_at(pos_) == "%" || cur() == '%') {
        pos_ += cur() == '%' ? 1 : 2;
        n = unary(Kind::Percent, std::move(n));
      } else {
        break;
      }
    }
    return n;
  }

  MathNode group(char open, char close) {
    if (!eat(open)) return fail();
    MathNode e = expr();
    if (!eat(close)) return fail();
    return e;
  }

  // One argument of \frac, \sqrt or \binom: a {group}, or a single digit, letter or command.
  MathNode macro_arg() {
    skip_ws();
    char c = cur();
    if (c == '{') return group('{', '}');
    if (c == '(') return group('(', ')');  // "\sqrt(2)", as written after Unicode normalization
    if (is_digit(c)) {
      ++pos_;
      return leaf(Kind::Number, std::string(1, c));
    }
    if (is_letter(c)) {
      ++pos_;
      return c == 'i' ? leaf(Kind::Imag) : leaf(Kind::Var, std::string(1, c));
    }
    if (c == '\\') return primary();
    return fail();
  }

  std::string subscript() {
    // pos_ is just after '_'
    skip_ws();
    if (cur() == '{') {
      size_t close = s_.find('}', pos_);
      if (close == std::string_view::npos) {
        fail();
        return "";
      }
      std::string sub;
      for (char ch : s_.substr(pos_ + 1, close - pos_ - 1))
        if (!std::isspace(static_cast<unsigned char>(ch))) sub += ch;
      pos_ = close + 1;
      return sub;
    }
    if (at_end()) {
      fail();
      return "";
    }
    return std::string(1, s_[pos_++]);
  }

  MathNode number_literal() {
    size_t start = pos_;
    while (is_digit(cur())) ++pos_;
    if (cur() == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1])) {
      ++pos_;
      while (is_digit(cur())) ++pos_;
    }
    // Scientific notation: 1.5e-3, 2E10 (only when digits follow the exponent marker).
    if ((cur() == 'e' || cur() == 'E') && pos_ + 1 < s_.size()) {
      size_t q = pos_ + 1;
      if (q < s_.size() && (s_[q] == '-' || s_[q] == '+')) ++q;
      if (q < s_.size() && is_digit(s_[q])) {
        pos_ = q;
        while (is_digit(cur())) ++pos_;
      }
    }
    return leaf(Kind::Number, std::string(s_.substr(start, pos_ - start)));
  }

  // After an integer: "\frac{a}{b}" with integer a and b makes a mixed number.
  std::optional<MathNode> mixed_fraction() {
    size_t save = pos_;
    skip_ws();
    if (command_at(pos_) != "frac") {
      pos_ = save;
      return std::nullopt;
    }
    pos_ += 5;
    auto digits_arg = [&]() -> std::optional<std::string> {
      skip_ws();
      if (is_digit(cur())) {
        if (cur() == '0') return std::nullopt;
        return std::string(1, s_[pos_++]);
      }
      if (cur() != '{') return std::nullopt;
      size_t q = pos_ + 1;
      std::string d;
      while (q < s_.size() && (is_digit(s_[q]) || s_[q] == ' ')) {
        if (s_[q] != ' ') d += s_[q];
        ++q;
      }
      if (q >= s_.size() || s_[q] != '}' || d.empty()) return std::nullopt;
      pos_ = q + 1;
      return d;
    };
    auto num = digits_arg();
    auto den = num ? digits_arg() : std::nullopt;
    if (!num || !den) {
      pos_ = save;
      return std::nullopt;
    }
    return binary(Kind::Div, leaf(Kind::Number, *num), leaf(Kind::Number, *den));
  }

  MathNode function_application(std::string name) {
    MathNode power_of;
    bool has_power = false;
    MathNode base;
    bool has_base = false;
    skip_ws();
    if (cur() == '^') {
      ++pos_;
      power_of = exponent();
      has_power = true;
    }
    skip_ws();
    if (cur() == '_' && name == "log") {
      ++pos_;
      skip_ws();
      base = cur() == '{' ? group('{', '}') : macro_arg();  // LaTeX: one token, "\log_28"
      has_base = true;
    }
    MathNode arg;
    skip_ws();
    if (cur() == '(' || cur() == '{') {
      char open = cur();
      arg = group(open, open == '(' ? ')' : '}');
    } else {
      arg = power();
      while (ok_ && at_primary_start() && !is_func_name(command_at(pos_)) && cur() != '(')
        arg = binary(Kind::Mul, std::move(arg), power());
    }
    std::vector<MathNode> kids;
    kids.push_back(std::move(arg));
    if (has_base) kids.push_back(std::move(base));
    MathNode f = node(Kind::Func, std::move(kids), name);
    if (has_power) f = binary(Kind::Pow, std::move(f), std::move(power_of));
    return f;
  }

  MathNode matrix(std::string_view env) {
    std::vector<MathNode> rows;
    std::vector<MathNode> row;
    std::string end = "\\end{" + std::string(env) + "}";
    while (ok_) {
      skip_ws();
      if (s_.substr(pos_, end.size()) == end) {
        pos_ += end.size();
        if (!row.empty()) rows.push_back(node(Kind::Tuple, std::move(row)));
        break;
      }
      row.push_back(expr());
      skip_ws();
      if (cur() == '&') {
        ++pos_;
      } else if (command_at(pos_) == "\\") {
        pos_ += 2;
        rows.push_back(node(Kind::Tuple, std::move(row)));
        row.clear();
      } else if (s_.substr(pos_, end.size()) != end) {
        return fail();
      }
    }
    for (auto& r : rows) r.open = '[', r.close = ']';
    return node(Kind::Matrix, std::move(rows));
  }

  MathNode primary() {
    DepthGuard guard(depth_);
    if (depth_ > kMaxDepth) return fail();
    skip_ws();
    if (!ok_ || at_end()) return fail();
    char c = cur();
    if (is_digit(c) || (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) {
      if (c == '.') {
        ++pos_;
        MathNode frac = number_literal();
        frac.text = "0." + frac.text;
        return frac;
      }
      MathNode num = number_literal();
      if (cur() == '_') {
        ++pos_;
        return leaf(Kind::Var, num.text + "_" + subscript());
      }
      if (num.text.find_first_of(".eE") == std::string::npos) {
        if (auto frac = mixed_fraction())
          return binary(Kind::Add, std::move(num), std::move(*frac));
      }
      return num;
    }
    if (is_letter(c)) {
      for (auto f : kFuncs) {
        if (s_.substr(pos_, f.size()) == f) {
          pos_ += f.size();
          return function_application(std::string(f));
        }
      }
      ++pos_;
      if (c == 'i') return leaf(Kind::Imag);
      std::string name(1, c);
      if (cur() == '_') {
        ++pos_;
        name += "_" + subscript();
      }
      return leaf(Kind::Var, name);
    }
    if (c == '(') return group('(', ')');
    if (c == '[') return group('[', ']');
    if (c == '{') return group('{', '}');
    if (c == '|') {
      ++pos_;
      ++abs_depth_;
      MathNode e = expr();
      --abs_depth_;
      if (!eat('|')) return fail();
      return unary(Kind::Func, std::move(e), "abs");
    }
    if (c != '\\') return fail();
    std::string name(command_at(pos_));
    pos_ += 1 + name.size();
    if (name == "frac") {
      MathNode a = macro_arg();
      MathNode b = macro_arg();
      return binary(Kind::Div, std::move(a), std::move(b));
    }
    if (name == "binom") {
      MathNode a = macro_arg();
      MathNode b = macro_arg();
      return node(Kind::Func, {std::move(a), std::move(b)}, "binom");
    }
    if (name == "sqrt") {
      skip_ws();
      if (cur() == '[') {
        MathNode index = group('[', ']');
        MathNode radicand = macro_arg();
        return node(Kind::Func, {std::move(radicand), std::move(index)}, "root");
      }
      return unary(Kind::Func, macro_arg(), "sqrt");
    }
    if (name == "pi") return leaf(Kind::Pi);
    if (name == "infty") return leaf(Kind::Infinity);
    if (name == "lvert") {
      ++abs_depth_;
      MathNode e = expr();
      --abs_depth_;
      if (!eat_command("rvert")) return fail();
      return unary(Kind::Func, std::move(e), "abs");
    }
    if (name == "lfloor" || name == "lceil") {
      MathNode e = expr();
      if (!eat_command(name == "lfloor" ? "rfloor" : "rceil")) return fail();
      return unary(Kind::Func, std::move(e), name == "lfloor" ? "floor" : "ceil");
    }
    if (name == "begin") {
      skip_ws();
      size_t close = s_.find('}', pos_);
      if (cur() != '{' || close == std::string_view::npos) return fail();
      std::string env(s_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      if (env != "pmatrix" && env != "bmatrix" && env != "matrix" && env != "Bmatrix")
        return fail();
      return matrix(env);
    }
    if (is_greek(name)) return leaf(Kind::Var, "\\" + name);
    if (is_func_name(name)) return function_application(name);
    return fail();
  }
};

// Position of the bracket closing the one at `open_pos`; any of ([{ opens and any of )]} closes,
// so that half-open intervals "(3,4]" match. npos when unbalanced.
size_t matching_close(std::string_view s, size_t open_pos) {
  int depth = 0;
  for (size_t i = open_pos; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (--depth == 0) return i;
    }
  }
  return std::string_view::npos;
}

// Splits at `sep` where the bracket depth is zero.
std::vector<std::string_view> split_top(std::string_view s, std::string_view sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth == 0 && s.substr(i, sep.size()) == sep) {
      // "\cup" must not match "\cupx"; "," always matches.
      parts.push_back(s.substr(start, i - start));
      i += sep.size() - 1;
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Whether the command \name occurs as a whole command (\in but not \infty).
bool has_command(std::string_view s, std::string_view name) {
  for (size_t p = s.find('\\'); p != std::string_view::npos; p = s.find('\\', p + 1)) {
    size_t q = p + 1;
    while (q < s.size() && is_letter(s[q])) ++q;
    if (s.substr(p + 1, q - p - 1) == name) return true;
  }
  return false;
}

// "x < 3" -> (-inf, 3); "x \ge 2" -> [2, inf); "1 < x \le 2" -> (1, 2]; one variable only.
std::optional<MathNode> inequality_interval(std::string_view s) {
  struct Piece {
    std::string_view text;
    int op;  // relation after this piece: 0 none, 1 '<', 2 '\le', 3 '>', 4 '\ge'
  };
  std::vector<Piece> pieces;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth != 0) continue;
    int op = 0;
    size_t len = 0;
    auto command = [&](std::string_view name) {
      return s.substr(i, name.size()) == name &&
             (i + name.size() == s.size() || !is_letter(s[i + name.size()]));
    };
    if (c == '<') {
      op = 1, len = 1;
      if (i + 1 < s.size() && s[i + 1] == '=') op = 2, len = 2;
    } else if (c == '>') {
      op = 3, len = 1;
      if (i + 1 < s.size() && s[i + 1] == '=') op = 4, len = 2;
    } else if (command("\\lt")) {
      op = 1, len = 3;
    } else if (command("\\le")) {
      op = 2, len = 3;
    } else if (command("\\gt")) {
      op = 3, len = 3;
    } else if (command("\\ge")) {
      op = 4, len = 3;
    }
    if (op == 0) continue;
    pieces.push_back({s.substr(start, i - start), op});
    start = i + len;
    i = start - 1;
  }
  if (pieces.empty()) return std::nullopt;
  pieces.push_back({s.substr(start), 0});
  auto is_var = [](std::string_view t) {
    t = trim(t);
    return t.size() == 1 && is_letter(t[0]) && t[0] != 'i';
  };
  MathNode inf = leaf(Kind::Infinity);
  MathNode neg_inf = unary(Kind::Neg, leaf(Kind::Infinity));
  auto interval = [](MathNode lo, bool lo_closed, MathNode hi, bool hi_closed) {
    MathNode t = node(Kind::Tuple, {std::move(lo), std::move(hi)});
    t.open = lo_closed ? '[' : '(';
    t.close = hi_closed ? ']' : ')';
    return t;
  };
  bool less0 = pieces[0].op <= 2, closed0 = pieces[0].op % 2 == 0;
  if (pieces.size() == 2) {
    bool var_left = is_var(pieces[0].text), var_right = is_var(pieces[1].text);
    if (var_left == var_right) return std::nullopt;
    auto bound = parse_math_expr(var_left ? pieces[1].text : pieces[0].text);
    if (!bound) return std::nullopt;
    // "x < b" and "b > x" both bound x from above
    bool upper = var_left == less0;
    if (upper) return interval(neg_inf, false, std::move(*bound), closed0);
    return interval(std::move(*bound), closed0, inf, false);
  }
  if (pieces.size() == 3 && is_var(pieces[1].text)) {
    bool less1 = pieces[1].op <= 2, closed1 = pieces[1].op % 2 == 0;
    if (less0 != less1) return std::nullopt;
    auto a = parse_math_expr(pieces[0].text), b = parse_math_expr(pieces[2].text);
    if (!a || !b) return std::nullopt;
    if (less0) return interval(std::move(*a), closed0, std::move(*b), closed1);
    return interval(std::move(*b), closed1, std::move(*a), closed0);
  }
  return std::nullopt;
}

bool contains_plus_minus(const MathNode& n) {
  if (n.kind == Kind::PlusMinus) return true;
  for (const auto& k : n.kids)
    if (contains_plus_minus(k)) return true;
  return false;
}

// Parses the elements of a set or list; \pm inside an element yields both elements.
std::vector<MathNode> parse_elements(std::string_view inner, bool flatten_lists) {
  std::vector<MathNode> out;
  for (auto part : split_top(inner, ",")) {
    MathNode e = parse_math_answer(part);
    if (flatten_lists && e.kind == Kind::List) {
      for (auto& k : e.kids) out.push_back(std::move(k));
    } else {
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace

std::optional<MathNode> parse_math_expr(std::string_view text) {
  if (trim(text).empty() || text.size() > kMaxAnswerLength) return std::nullopt;
  return Parser(text).parse_all();
}

std::vector<MathNode> expand_plus_minus(const MathNode& n) {
  if (n.kids.empty()) return {n};
  std::vector<MathNode> acc = {n};
  for (auto& a : acc) a.kids.clear();
  for (const auto& kid : n.kids) {
    auto options = expand_plus_minus(kid);
    std::vector<MathNode> next;
    for (const auto& partial : acc)
      for (const auto& o : options) {
        if (next.size() >= 64) break;  // a bound on pathological inputs
        MathNode m = partial;
        m.kids.push_back(o);
        next.push_back(std::move(m));
      }
    acc = std::move(next);
  }
  if (n.kind != Kind::PlusMinus) return acc;
  std::vector<MathNode> out;
  for (auto& m : acc) {
    MathNode plus = m, minus = m;
    plus.kind = Kind::Add;
    minus.kind = Kind::Sub;
    plus.text.clear();
    minus.text.clear();
    out.push_back(std::move(plus));
    out.push_back(std::move(minus));
  }
  return out;
}

MathNode parse_math_answer(std::string_view normalized) {
  std::string_view s = trim(normalized);
  MathNode text_node = leaf(Kind::Text, std::string(s));
  if (s.empty() || s.size() > kMaxAnswerLength) return text_node;

  auto unions = split_top(s, "\\cup");
  if (unions.size() > 1) {
    std::vector<MathNode> parts;
    for (auto p : unions) parts.push_back(parse_math_answer(p));
    return node(Kind::Union, std::move(parts));
  }
  if (s.substr(0, 2) == "\\{" && s.size() >= 4 && matching_close(s, 1) == s.size() - 1 &&
      s[s.size() - 2] == '\\') {
    std::string_view inner = trim(s.substr(2, s.size() - 4));
    MathNode set =
        node(Kind::Set, inner.empty() ? std::vector<MathNode>{} : parse_elements(inner, true));
    return set;
  }
  auto commas = split_top(s, ",");
  if ((s[0] == '(' || s[0] == '[') && matching_close(s, 0) == s.size() - 1 && s.size() >= 2) {
    auto inner = s.substr(1, s.size() - 2);
    if (split_top(inner, ",").size() > 1) {
      MathNode t = node(Kind::Tuple, parse_elements(inner, false));
      t.open = s[0];
      t.close = s.back();
      return t;
    }
  }
  if (s.substr(0, 7) == "\\langle" && s.size() > 14 && s.substr(s.size() - 7) == "\\rangle") {
    MathNode t = node(Kind::Tuple, parse_elements(s.substr(7, s.size() - 14), false));
    t.open = '<';
    t.close = '>';
    return t;
  }
  if (commas.size() > 1) return node(Kind::List, parse_elements(s, true));

  // Inequalities and relations stay text.
  if (auto interval = inequality_interval(s)) return *interval;
  if (s.find('<') != std::string_view::npos || s.find('>') != std::string_view::npos)
    return text_node;
  for (std::string_view rel : {"le", "leq", "ge", "geq", "ne", "neq", "approx", "to", "in", "lt",
                               "gt", "subset", "subseteq"})
    if (has_command(s, rel)) return text_node;
  auto eq = split_top(s, "=");
  if (eq.size() == 2) {
    auto lhs = parse_math_expr(eq[0]);
    auto rhs = parse_math_expr(eq[1]);
    if (!lhs || !rhs) return text_node;
    return binary(Kind::Equation, std::move(*lhs), std::move(*rhs));
  }
  if (eq.size() > 2) return text_node;
  auto e = parse_math_expr(s);
  if (!e) return text_node;
  if (contains_plus_minus(*e)) return node(Kind::List, expand_plus_minus(*e));
  return *e;
}

std::string to_string(const MathNode& n) {
  auto kids = [&](const char* sep) {
    std::string out;
    for (size_t i = 0; i < n.kids.size(); ++i) out += (i ? sep : "") + to_string(n.kids[i]);
    return out;
  };
  switch (n.kind) {
    case Kind::Number:
    case Kind::Var:
      return n.text;
    case Kind::Pi:
      return "pi";
    case Kind::Imag:
      return "i";
    case Kind::Infinity:
      return "inf";
    case Kind::Add:
      return "(" + kids(" + ") + ")";
    case Kind::Sub:
      return "(" + kids(" - ") + ")";
    case Kind::PlusMinus:
      return "(" + kids(" +- ") + ")";
    case Kind::Mul:
      return "(" + kids(" * ") + ")";
    case Kind::Div:
      return "(" + kids(" / ") + ")";
    case Kind::Pow:
      return "(" + kids(" ^ ") + ")";
    case Kind::Neg:
      return "-" + kids("");
    case Kind::Func:
      return n.text + "(" + kids(", ") + ")";
    case Kind::Percent:
      return kids("") + "%";
    case Kind::Tuple:
      return std::string(1, n.open ? n.open : '(') + kids(", ") + (n.close ? n.close : ')');
    case Kind::Set:
      return "{" + kids(", ") + "}";
    case Kind::List:
      return "list(" + kids(", ") + ")";
    case Kind::Union:
      return kids(" U ");
    case Kind::Matrix:
      return "matrix(" + kids(", ") + ")";
    case Kind::Equation:
      return kids(" = ");
    case Kind::Text:
      return "text(" + n.text + ")";
  }
  return "?";
}

}  // namespace r1::eval
