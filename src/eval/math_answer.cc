#include "eval/math_answer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "eval/math_text.h"

namespace r1::eval {

using text::close_brace;
using text::is_digit;
using text::is_letter;
using text::is_space;
using text::lower;
using text::trim;

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

// Removes the command \name wherever it is not followed by a letter (so \left but not \leftarrow).
void remove_command(std::string& s, std::string_view name, bool with_dot = false) {
  std::string pat = "\\" + std::string(name);
  for (size_t p = s.find(pat); p != std::string::npos; p = s.find(pat, p)) {
    size_t end = p + pat.size();
    if (end < s.size() && is_letter(s[end])) {
      p = end;
      continue;
    }
    if (with_dot && end < s.size() && s[end] == '.') ++end;
    s.erase(p, end - p);
  }
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

constexpr size_t kMaxNormalizedLength = 4096;

constexpr std::array<std::string_view, 42> kUnits = {
    "cm",    "m",      "km",      "mm",     "in",      "inch",    "inches", "ft",    "foot",
    "feet",  "yd",     "yards",   "mile",   "miles",   "meter",   "meters", "units", "unit",
    "sq",    "square", "cubic",   "degree", "degrees", "dollars", "dollar", "cents", "cent",
    "hours", "hour",   "minutes", "minute", "seconds", "second",  "days",   "day",   "mph",
    "kg",    "g",      "pounds",  "liters", "percent", "points"};

bool is_unit_phrase(std::string_view content) {
  content = trim(content);
  if (content.empty()) return false;
  size_t i = 0;
  while (i < content.size()) {
    while (i < content.size() && is_space(content[i])) ++i;
    size_t start = i;
    while (i < content.size() && is_letter(content[i])) ++i;
    if (start == i) return false;
    auto word = lower(content.substr(start, i - start));
    if (std::find(kUnits.begin(), kUnits.end(), word) == kUnits.end()) return false;
    if (i < content.size() && content[i] == '^') i += 2;  // "m^2"
  }
  return true;
}

// Skips a trailing exponent "^2", "^{2}" at pos; returns the position after it.
size_t skip_power(std::string_view s, size_t pos) {
  if (pos < s.size() && s[pos] == '^') {
    if (pos + 1 < s.size() && is_digit(s[pos + 1])) return pos + 2;
    if (pos + 1 < s.size() && s[pos + 1] == '{') {
      size_t c = close_brace(s, pos + 1);
      if (c != std::string_view::npos) return c + 1;
    }
  }
  return pos;
}

// \text{...} and friends: unwrap, or drop when the content is a unit after a number.
void unwrap_text_commands(std::string& s) {
  static constexpr std::array<std::string_view, 10> kText = {
      "text",   "textbf", "textit",       "textrm", "mathrm",
      "mathbf", "mbox",   "operatorname", "mathit", "textnormal"};
  for (auto name : kText) {
    std::string pat = "\\" + std::string(name) + "{";
    for (size_t p = s.find(pat); p != std::string::npos; p = s.find(pat, p)) {
      size_t open = p + pat.size() - 1;
      size_t close = close_brace(s, open);
      if (close == std::string::npos) break;
      std::string content = s.substr(open + 1, close - open - 1);
      size_t before = p;
      while (before > 0 && is_space(s[before - 1])) --before;
      bool after_value = before > 0 && (is_digit(s[before - 1]) || s[before - 1] == '}' ||
                                        s[before - 1] == ')' || s[before - 1] == '%');
      if (name == "text" && !content.empty() &&
          content.find_first_not_of("0123456789") == std::string::npos) {
        // \text{13} is a label, not the number 13 (as Math-Verify decides); \mathbf{127} is 127
        p = close + 1;
      } else if (after_value && is_unit_phrase(content)) {
        s.erase(p, skip_power(s, close + 1) - p);
      } else if (trim(content) == "and" || trim(content) == "or") {
        s.replace(p, close + 1 - p, ",");
      } else {
        s.replace(p, close + 1 - p, content);
      }
    }
  }
}

// "5 cm", "12 square units", "3 m^2": drops unit words after a value free of letters.
void drop_bare_units(std::string& s) {
  size_t cut = s.size();
  while (true) {
    std::string_view head = trim(std::string_view(s).substr(0, cut));
    size_t end = head.size();
    size_t q = end;
    // allow a trailing ^2 on the unit
    if (q >= 2 && head[q - 2] == '^' && is_digit(head[q - 1])) q -= 2;
    size_t word_end = q;
    while (q > 0 && is_letter(head[q - 1])) --q;
    if (q == word_end || q == 0 || !is_space(head[q - 1])) break;
    auto word = lower(head.substr(q, word_end - q));
    if (std::find(kUnits.begin(), kUnits.end(), word) == kUnits.end()) break;
    cut = q;
  }
  if (cut == s.size()) return;
  std::string_view value = trim(std::string_view(s).substr(0, cut));
  // Only when what stays is a plain value: no letters outside commands.
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\') {
      while (i + 1 < value.size() && is_letter(value[i + 1])) ++i;
    } else if (is_letter(value[i])) {
      return;
    }
  }
  if (!value.empty()) s = std::string(value);
}

// Thousands separators: "10,\!080" always; "1,234,567" when it is the whole answer.
void drop_thousands_separators(std::string& s) {
  for (size_t p = s.find(",\\!"); p != std::string::npos; p = s.find(",\\!", p)) {
    size_t q = p + 3;
    while (q < s.size() && s[q] == ' ') ++q;
    bool digits_after = q + 3 <= s.size() && is_digit(s[q]) && is_digit(s[q + 1]) &&
                        is_digit(s[q + 2]) && (q + 3 == s.size() || !is_digit(s[q + 3]));
    if (p > 0 && is_digit(s[p - 1]) && digits_after) {
      s.erase(p, q - p);
    } else {
      p += 3;
    }
  }
  // whole-answer form: -?d{1,3}(,ddd)+(.d+)?
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  size_t lead = i;
  while (i < s.size() && is_digit(s[i])) ++i;
  if (i == lead || i - lead > 3 || s[lead] == '0' || i >= s.size() || s[i] != ',') return;
  while (i < s.size() && s[i] == ',') {
    if (i + 3 >= s.size() || !is_digit(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 3]))
      return;
    i += 4;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t d = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == d) return;
  }
  if (i != s.size()) return;
  s.erase(std::remove(s.begin(), s.end(), ','), s.end());
}

// Removes whitespace, except one space between a command name and a following letter or digit
// ("\cot x" stays "\cot x"; "2 x" becomes "2x").
std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool in_command = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (is_space(c)) {
      size_t j = i;
      while (j < s.size() && is_space(s[j])) ++j;
      if (in_command && j < s.size() && (is_letter(s[j]) || is_digit(s[j]))) out += ' ';
      in_command = false;
      i = j - 1;
      continue;
    }
    if (c == '\\') {
      in_command = i + 1 < s.size() && is_letter(s[i + 1]);
      out += c;
      if (!in_command && i + 1 < s.size()) out += s[++i];
      continue;
    }
    if (!is_letter(c)) in_command = false;
    out += c;
  }
  return out;
}

// Replaces the spacing commands \! \, \; \: "\ " and ~ by a space, keeping "\\" (a row break).
std::string drop_spacing_commands(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '~') {
      out += ' ';
    } else if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == '!' || n == ',' || n == ';' || n == ':' || n == ' ') {
        out += ' ';
      } else {
        out += s[i];
        out += n;
      }
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// "\\frac" written with a doubled backslash (JSON-escaped twice) -> "\frac"; not in matrices,
// where "\\" is a row break.
void undouble_backslashes(std::string& s) {
  if (s.find("matrix") != std::string::npos || s.find("array") != std::string::npos) return;
  for (size_t p = s.find("\\\\"); p != std::string::npos; p = s.find("\\\\", p + 1))
    if (p + 2 < s.size() && is_letter(s[p + 2])) s.erase(p, 1);
}

// "14{,}916" and "14 {, }916": a thousands separator, written ",\!".
void braced_commas(std::string& s) {
  for (size_t p = s.find('{'); p != std::string::npos; p = s.find('{', p + 1)) {
    size_t q = p + 1;
    while (q < s.size() && s[q] == ' ') ++q;
    if (q >= s.size() || s[q] != ',') continue;
    ++q;
    while (q < s.size() && s[q] == ' ') ++q;
    if (q >= s.size() || s[q] != '}') continue;
    size_t a = p, b = q + 1;
    while (a > 0 && s[a - 1] == ' ') --a;
    while (b < s.size() && s[b] == ' ') ++b;
    s.replace(a, b - a, ",\\!");
    p = a;
  }
}

// Whether s[p, p + len) is a whole word (no letter on either side).
bool whole_word(std::string_view s, size_t p, size_t len) {
  return (p == 0 || !is_letter(s[p - 1])) && (p + len >= s.size() || !is_letter(s[p + len]));
}

// Standalone "and" / "or" -> "," ("1, 2, and 3", "(11,7)or(7,11)"); percent words -> "%".
void replace_words(std::string& s) {
  for (auto [word, to] : {std::pair<std::string_view, std::string_view>{"and", ","},
                          {"or", ","},
                          {"percentage", "%"},
                          {"percent", "%"},
                          {"pct", "%"}}) {
    for (size_t p = s.find(word); p != std::string::npos; p = s.find(word, p + 1)) {
      if (!whole_word(s, p, word.size()) || (p > 0 && s[p - 1] == '\\')) continue;
      size_t a = p, b = p + word.size();
      while (a > 0 && is_space(s[a - 1])) --a;
      if (to == "," && a > 0 && s[a - 1] == ',') --a;  // ", and"
      s.replace(a, b - a, to);
      p = a;
    }
  }
}

// Relation symbols in one spelling each: "<" ">" "=" "\le" "\ge" "\ne".
void canonical_relations(std::string& s) {
  for (auto [from, to] : {std::pair<std::string_view, std::string_view>{"\\leqslant", "\\le "},
                          {"\\geqslant", "\\ge "},
                          {"\\leq", "\\le "},
                          {"\\geq", "\\ge "},
                          {"\\neq", "\\ne "},
                          {"\\not=", "\\ne "},
                          {"!=", "\\ne "},
                          {"<=", "\\le "},
                          {">=", "\\ge "},
                          {"=<", "\\le "},
                          {"=>", "\\ge "}})
    replace_all(s, from, to);
  for (std::string_view cmd : {"\\lt", "\\gt"}) {
    for (size_t p = s.find(cmd); p != std::string::npos; p = s.find(cmd, p)) {
      if (p + 3 < s.size() && is_letter(s[p + 3])) {
        p += 3;
        continue;
      }
      s.replace(p, 3, cmd == "\\lt" ? "<" : ">");
    }
  }
  // "x = 1/3 \approx 0.33": the exact value stands; "x \approx 11" reads as "x = 11".
  if (size_t ap = s.find("\\approx"); ap != std::string::npos) {
    if (s.rfind('=', ap) != std::string::npos) {
      s.erase(ap);
    } else {
      s.replace(ap, 7, "=");
    }
  }
}

// ";" inside brackets separates coordinates: "(0;-2;6)" -> "(0,-2,6)".
void semicolons_in_brackets(std::string& s) {
  int depth = 0;
  for (char& c : s) {
    if (c == '(' || c == '[') ++depth;
    if ((c == ')' || c == ']') && depth > 0) --depth;
    if (c == ';' && depth > 0) c = ',';
  }
}

std::string strip_wrappers(std::string_view in) {
  std::string_view s = trim(in);
  for (bool changed = true; changed;) {
    changed = false;
    if (s.size() >= 2 && s.front() == '$' && s.back() == '$') {
      s = trim(s.substr(1, s.size() - 2));
      changed = true;
    }
    for (auto [open, close] :
         {std::pair<std::string_view, std::string_view>{"\\(", "\\)"}, {"\\[", "\\]"}}) {
      if (s.size() >= 4 && s.substr(0, 2) == open && ends_with(s, close)) {
        s = trim(s.substr(2, s.size() - 4));
        changed = true;
      }
    }
  }
  return std::string(s);
}

}  // namespace

std::string normalize_math_answer(std::string_view answer) {
  // Far longer than any answer: left as it is (compared as text), so that pathological input
  // costs linear time.
  if (answer.size() > kMaxNormalizedLength) return std::string(trim(answer));
  std::string s = strip_wrappers(answer);
  // Unicode math that models sometimes write instead of LaTeX.
  for (auto [from, to] : {std::pair<std::string_view, std::string_view>{"\u03c0", "\\pi "},
                          {"\u221a", "\\sqrt"},
                          {"\u2212", "-"},
                          {"\u00d7", "\\times "},
                          {"\u00b7", "\\cdot "},
                          {"\u22c5", "\\cdot "},
                          {"\u00f7", "\\div "},
                          {"\u221e", "\\infty "},
                          {"\u2264", "\\le "},
                          {"\u2265", "\\ge "},
                          {"\u2260", "\\ne "}})
    replace_all(s, from, to);
  undouble_backslashes(s);
  braced_commas(s);
  replace_all(s, "\\cfrac", "\\frac");
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  replace_all(s, "\\displaystyle", "");
  drop_thousands_separators(s);
  remove_command(s, "left", true);
  remove_command(s, "right", true);
  s = drop_spacing_commands(s);
  replace_all(s, "\\qquad", " ");  // also when a letter follows: "\quadx_2"
  replace_all(s, "\\quad", " ");
  for (std::string_view deg : {"^{\\circ}", "^\\circ", "^{\\circ }", "\\circ", "\\degree", "°"})
    replace_all(s, deg, "");
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  replace_all(s, "\\%", "%");
  replace_all(s, "\\mathbb{R}", "(-\\infty,\\infty)");
  replace_all(s, "\\emptyset", "\\{\\}");
  replace_all(s, "\\varnothing", "\\{\\}");
  unwrap_text_commands(s);
  replace_words(s);
  canonical_relations(s);
  semicolons_in_brackets(s);
  drop_bare_units(s);
  s = std::string(trim(s));
  while (!s.empty() && (s.back() == '.' || s.back() == ',' || s.back() == ';')) s.pop_back();
  s = std::string(trim(s));
  if (ends_with(s, "\\\\")) s = std::string(trim(s.substr(0, s.size() - 2)));
  // "x \in [a, b]" -> "[a, b]"
  if (s.size() > 4 && is_letter(s[0])) {
    std::string_view rest = trim(std::string_view(s).substr(1));
    if (rest.substr(0, 3) == "\\in" && (rest.size() == 3 || !is_letter(rest[3])))
      s = std::string(trim(rest.substr(3)));
  }
  // "x = 5" -> "5" when the right side is a plain value (no letters outside commands).
  if (s.size() > 2 && is_letter(s[0]) && std::count(s.begin(), s.end(), '=') == 1) {
    std::string_view rest = trim(std::string_view(s).substr(1));
    if (!rest.empty() && rest[0] == '=') {
      std::string_view value = trim(rest.substr(1));
      bool plain = !value.empty();
      for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\') {
          while (i + 1 < value.size() && is_letter(value[i + 1])) ++i;
        } else if (is_letter(value[i])) {
          plain = false;
        }
      }
      if (plain) s = std::string(value);
    }
  }
  drop_thousands_separators(s);
  s = collapse_spaces(s);
  // "(B)" -> "B" (multiple-choice letters)
  if (s.size() == 3 && s[0] == '(' && s[2] == ')' && std::isupper(static_cast<unsigned char>(s[1])))
    s = s.substr(1, 1);
  return s;
}

}  // namespace r1::eval
