// The answer structures around scalar expressions (math_expr.h): tuples and intervals, sets,
// comma lists, unions, equations, inequalities read as intervals, and \pm expansion.
#include <algorithm>
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

// Splits s at its top-level relation symbols, one character each into `ops` (see
// MathNode::Relation); a single part when there are none.
std::vector<std::string_view> split_relations(std::string_view s, std::string& ops) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (depth != 0) continue;
    char op = 0;
    size_t len = 1;
    if (c == '=' || c == '<' || c == '>') {
      op = c;
    } else if (c == '\\') {
      size_t q = i + 1;
      while (q < s.size() && is_letter(s[q])) ++q;
      std::string_view name = s.substr(i + 1, q - i - 1);
      len = q - i;
      if (name == "le" || name == "leq") op = 'l';
      if (name == "ge" || name == "geq") op = 'g';
      if (name == "ne" || name == "neq") op = 'n';
      if (name == "lt") op = '<';
      if (name == "gt") op = '>';
      if (op == 0) {
        i = q - 1;
        continue;
      }
    }
    if (op == 0) continue;
    parts.push_back(s.substr(start, i - start));
    ops += op;
    start = i + len;
    i = start - 1;
  }
  parts.push_back(s.substr(start));
  return parts;
}

bool has_var(const MathNode& n) {
  if (n.kind == Kind::Var || n.kind == Kind::Text) return true;
  for (const auto& k : n.kids)
    if (has_var(k)) return true;
  return false;
}

// A name written as text: letters, subscripts, ':' and '|' ("S_{MBCN}:S", "A:B"), no digits
// outside subscripts.
bool text_names_only(std::string_view t) {
  bool letter = false;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '_') {  // skip the subscript
      if (i + 1 < t.size() && t[i + 1] == '{') {
        size_t close = matching_close(t, i + 1);
        if (close == std::string_view::npos) return false;
        i = close;
      } else {
        ++i;
      }
      continue;
    }
    if (is_letter(c)) {
      letter = true;
    } else if (c != ':' && c != '|' && c != ' ' && c != '\\' && c != '{' && c != '}') {
      return false;
    }
  }
  return letter;
}

MathNode interval(MathNode lo, bool lo_closed, MathNode hi, bool hi_closed) {
  MathNode t = node(Kind::Tuple, {std::move(lo), std::move(hi)});
  t.open = lo_closed ? '[' : '(';
  t.close = hi_closed ? ']' : ')';
  return t;
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

  // "p=5,q=2;p=7,q=2": ';' between brackets separates answers (each may be a list itself)
  if (auto answers = split_top(s, ";"); answers.size() > 1) {
    std::vector<MathNode> parts;
    for (auto a : answers)
      if (!trim(a).empty()) parts.push_back(parse_math_answer(a));
    return node(Kind::List, std::move(parts));
  }

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

  std::string ops;
  auto sides = split_relations(s, ops);
  if (!ops.empty()) {
    MathNode rel;
    rel.kind = Kind::Relation;
    rel.text = ops;
    for (auto side : sides) {
      if (trim(side).empty()) return text_node;
      rel.kids.push_back(parse_math_answer(side));
    }
    return rel;
  }
  for (std::string_view cmd : {"approx", "to", "in", "subset", "subseteq", "sim", "equiv"})
    if (has_command(s, cmd)) return text_node;
  auto e = parse_math_expr(s);
  if (!e) return text_node;
  if (contains_plus_minus(*e)) return node(Kind::List, expand_plus_minus(*e));
  return *e;
}

bool is_structure(const MathNode& n) {
  switch (n.kind) {
    case Kind::Tuple:
    case Kind::Set:
    case Kind::List:
    case Kind::Union:
    case Kind::Matrix:
    case Kind::Relation:
    case Kind::Text:
      return true;
    default:
      return false;
  }
}

bool names_only(const MathNode& n) {
  switch (n.kind) {
    case Kind::Var:
      return true;
    case Kind::Text:
      return text_names_only(n.text);
    case Kind::Mul:
    case Kind::Div:
    case Kind::Tuple:
    case Kind::List:
      if (n.kids.empty()) return false;
      for (const auto& k : n.kids)
        if (!names_only(k)) return false;
      return true;
    case Kind::Func:
      return n.text == "abs" && names_only(n.kids[0]);
    default:
      return false;
  }
}

std::optional<MathNode> relation_as_set(const MathNode& rel) {
  if (rel.kind != Kind::Relation) return std::nullopt;
  std::vector<MathNode> sides = rel.kids;
  std::string ops = rel.text;
  bool greater = ops.find_first_not_of(">g") == std::string::npos;
  if (greater) {  // "b > x > a" reads as "a < x < b"
    std::reverse(sides.begin(), sides.end());
    std::reverse(ops.begin(), ops.end());
    for (char& c : ops) c = c == '>' ? '<' : 'l';
  }
  if (ops.find_first_not_of("<l") != std::string::npos) return std::nullopt;
  auto bound = [](const MathNode& b) { return !is_structure(b) && !has_var(b); };
  MathNode inf = leaf(Kind::Infinity);
  MathNode neg_inf = unary(Kind::Neg, leaf(Kind::Infinity));
  if (sides.size() == 2) {
    bool var_left = names_only(sides[0]) && bound(sides[1]);
    bool var_right = names_only(sides[1]) && bound(sides[0]);
    if (var_left == var_right) return std::nullopt;
    if (var_left) return interval(neg_inf, false, sides[1], ops[0] == 'l');
    return interval(sides[0], ops[0] == 'l', inf, false);
  }
  if (sides.size() != 3 || !names_only(sides[1]) || !bound(sides[0]) || !bound(sides[2]))
    return std::nullopt;
  bool lo_closed = ops[0] == 'l', hi_closed = ops[1] == 'l';
  const MathNode& v = sides[1];
  // "a <= |z| <= b" with a literal a >= 0: z in [-b, -a] U [a, b]
  if (v.kind == Kind::Func && v.text == "abs" && sides[0].kind == Kind::Number) {
    MathNode neg_a = unary(Kind::Neg, sides[0]), neg_b = unary(Kind::Neg, sides[2]);
    return node(Kind::Union, {interval(neg_b, hi_closed, neg_a, lo_closed),
                              interval(sides[0], lo_closed, sides[2], hi_closed)});
  }
  return interval(sides[0], lo_closed, sides[2], hi_closed);
}

}  // namespace r1::eval
