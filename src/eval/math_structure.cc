// The answer structures around scalar expressions (math_expr.h): tuples and intervals, sets,
// comma lists, unions, equations, inequalities read as intervals, and \pm expansion.
#include <cctype>

#include "eval/math_expr.h"

namespace r1::eval {

namespace {

using Kind = MathNode::Kind;

constexpr size_t kMaxAnswerLength = 1000;  // as in math_expr.cc

MathNode leaf(Kind k, std::string text = "") {
  MathNode n;
  n.kind = k;
  n.text = std::move(text);
  return n;
}
MathNode node(Kind k, std::vector<MathNode> kids) {
  MathNode n;
  n.kind = k;
  n.kids = std::move(kids);
  return n;
}
MathNode binary(Kind k, MathNode a, MathNode b) {
  std::vector<MathNode> kids;
  kids.push_back(std::move(a));
  kids.push_back(std::move(b));
  return node(k, std::move(kids));
}
MathNode unary(Kind k, MathNode a) {
  std::vector<MathNode> kids;
  kids.push_back(std::move(a));
  return node(k, std::move(kids));
}
bool is_letter(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

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

bool is_name(std::string_view t) {
  t = trim(t);
  if (t.empty() || !is_letter(t[0])) return false;
  if (t.size() == 1) return true;
  if (t[1] != '_') return false;  // "x_1", "a_{n}"
  for (char c : t.substr(2))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '{' && c != '}') return false;
  return true;
}

// A tuple of names "(x, y)" or function notation "f(x)", "g(x, y)".
bool names_a_value(std::string_view lhs) {
  lhs = trim(lhs);
  if (lhs.size() < 3 || lhs.back() != ')') return false;
  size_t open = lhs.find('(');
  if (open == std::string_view::npos || matching_close(lhs, open) != lhs.size() - 1) return false;
  if (open > 0 && !(open == 1 && is_letter(lhs[0]))) return false;
  for (auto part : split_top(lhs.substr(open + 1, lhs.size() - open - 2), ","))
    if (!is_name(part)) return false;
  return true;
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
    if (trim(part).empty()) continue;  // "1, 2, , 3" after "and" became a comma
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
  // "{1, 3}" without backslashes: a set as models often write it
  if (s[0] == '{' && matching_close(s, 0) == s.size() - 1 &&
      split_top(s.substr(1, s.size() - 2), ",").size() > 1)
    return node(Kind::Set, parse_elements(s.substr(1, s.size() - 2), true));
  // "(x, y) = (1, 2)" and "f(x) = 2x + 1": the left side only names the answer.
  if (auto eq = split_top(s, "="); eq.size() == 2 && names_a_value(eq[0]))
    return parse_math_answer(eq[1]);
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

}  // namespace r1::eval
