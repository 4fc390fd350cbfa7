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
    if (cur() == '.' && pos_ + 1 < s_.size() &&
        (is_digit(s_[pos_ + 1]) || s_.substr(pos_ + 1, 9) == "\\overline")) {
      ++pos_;
      while (is_digit(cur())) ++pos_;
      // A repeating decimal 0.1\overline{6}: written "0.1(6)" for parse_number.
      if (s_.substr(pos_, 10) == "\\overline{") {
        size_t close = s_.find('}', pos_);
        std::string_view rep =
            s_.substr(pos_ + 10, close == std::string_view::npos ? 0 : close - pos_ - 10);
        bool digits = !rep.empty() && std::all_of(rep.begin(), rep.end(), is_digit);
        if (!digits) return fail();
        std::string text(s_.substr(start, pos_ - start));
        pos_ = close + 1;
        return leaf(Kind::Number, text + "(" + std::string(rep) + ")");
      }
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
      if (env == "array") {  // \begin{array}{cc}: skip the column spec
        skip_ws();
        size_t spec_end = s_.find('}', pos_);
        if (cur() != '{' || spec_end == std::string_view::npos) return fail();
        pos_ = spec_end + 1;
      } else if (env != "pmatrix" && env != "bmatrix" && env != "matrix" && env != "Bmatrix") {
        return fail();
      }
      return matrix(env);
    }
    if (is_greek(name)) return leaf(Kind::Var, "\\" + name);
    if (is_func_name(name)) return function_application(name);
    return fail();
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
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
    case Kind::Relation: {
      std::string out;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        out += to_string(n.kids[i]);
        if (i < n.text.size()) {
          char op = n.text[i];
          out += op == 'l'   ? " <= "
                 : op == 'g' ? " >= "
                 : op == 'n' ? " != "
                             : std::string(" ") + op + " ";
        }
      }
      return out;
    }
    case Kind::Text:
      return "text(" + n.text + ")";
  }
  return "?";
}

}  // namespace r1::eval
