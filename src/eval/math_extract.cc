// Finding the final answer(s) in a completion or a gold solution; the order is in math_answer.h.
// The rules learn from what Math-Verify extracts (huggingface/Math-Verify, parser.py, and
// latex2sympy2_extended's boxed-content rules), written anew for r1.
#include <algorithm>
#include <vector>

#include "eval/math_answer.h"
#include "eval/math_text.h"

namespace r1::eval {

using text::close_brace;
using text::is_digit;
using text::is_letter;
using text::is_space;
using text::starts_with;
using text::trim;

namespace {

constexpr size_t npos = std::string_view::npos;
constexpr size_t kMaxParts = 16;  // answers kept from one group of boxes or math spans

// One or several answers found at one place; `end` is where the match ends (later wins).
struct Found {
  std::vector<std::string> parts;
  size_t end = 0;
  AnswerSource source = AnswerSource::None;
  explicit operator bool() const { return !parts.empty(); }
};

ExtractedAnswer to_answer(const Found& f) {
  ExtractedAnswer out;
  if (!f) return out;
  out.source = f.source;
  out.parts = f.parts;
  for (const auto& p : f.parts) out.text += (out.text.empty() ? "" : ", ") + p;
  return out;
}

// ---- \boxed{...} ----

struct Box {
  size_t start = 0, end = 0;  // the command's start; one past the closing brace
  std::string content;
};

size_t box_command(std::string_view t, size_t p) {
  for (std::string_view cmd : {"\\boxed", "\\fbox", "\\framebox"})
    if (starts_with(t, p, cmd) && (p + cmd.size() == t.size() || !is_letter(t[p + cmd.size()])))
      return cmd.size();
  return 0;
}

// The boxes of t, outermost only, in order. An unclosed box ends the search; with
// `keep_unclosed` its content is the rest of the text (for gold solutions), otherwise it is
// dropped (a truncated completion has no answer there).
std::vector<Box> find_boxes(std::string_view t, bool keep_unclosed) {
  std::vector<Box> boxes;
  for (size_t p = t.find('\\'); p != npos; p = t.find('\\', p + 1)) {
    size_t len = box_command(t, p);
    if (len == 0) continue;
    size_t q = p + len;
    while (q < t.size() && t[q] == ' ') ++q;
    if (q < t.size() && t[q] == '{') {
      size_t close = close_brace(t, q);
      if (close == npos) {
        if (keep_unclosed && !trim(t.substr(q + 1)).empty())
          boxes.push_back({p, t.size(), std::string(trim(t.substr(q + 1)))});
        break;
      }
      auto content = trim(t.substr(q + 1, close - q - 1));
      // "\boxed{\boxed{5}}": the inner box's content
      for (size_t inner = box_command(content, 0); inner > 0; inner = box_command(content, 0)) {
        size_t open = inner;
        while (open < content.size() && content[open] == ' ') ++open;
        if (open >= content.size() || content[open] != '{' ||
            close_brace(content, open) != content.size() - 1)
          break;
        content = trim(content.substr(open + 1, content.size() - open - 2));
      }
      if (!content.empty()) boxes.push_back({p, close + 1, std::string(content)});
      p = close;
    } else if (q > p + len && q < t.size()) {  // "\boxed 5"
      size_t e = q;
      while (e < t.size() && !is_space(t[e]) && t[e] != '$') ++e;
      if (e > q) boxes.push_back({p, e, std::string(t.substr(q, e - q))});
      p = e - 1;
    }
  }
  return boxes;
}

// ',' or ';' or the word "and" / "or".
bool has_separator(std::string_view s) {
  if (s.find_first_of(",;") != npos) return true;
  for (std::string_view w : {"and", "or"}) {
    for (size_t p = s.find(w); p != npos; p = s.find(w, p + 1)) {
      bool left = p == 0 || !std::isalnum(static_cast<unsigned char>(s[p - 1]));
      size_t e = p + w.size();
      bool right = e == s.size() || !std::isalnum(static_cast<unsigned char>(s[e]));
      if (left && right) return true;
    }
  }
  return false;
}

// The last box with the boxes before it that belong to the same answer: those less than 10
// characters apart, or less than 70 apart with a separator between them and other content
// ("\boxed{-2} and \boxed{1}"). Repeats of the same content count once.
Found box_group(std::string_view t, const std::vector<Box>& boxes) {
  Found f;
  f.source = AnswerSource::Boxed;
  f.end = boxes.back().end;
  f.parts.push_back(boxes.back().content);
  for (size_t i = boxes.size() - 1; i-- > 0 && f.parts.size() < kMaxParts;) {
    std::string_view between = t.substr(boxes[i].end, boxes[i + 1].start - boxes[i].end);
    bool joined = between.size() < 10 || (boxes[i].content != boxes[i + 1].content &&
                                          between.size() < 70 && has_separator(between));
    if (!joined) break;
    if (boxes[i].content != f.parts.back()) f.parts.push_back(boxes[i].content);
  }
  std::reverse(f.parts.begin(), f.parts.end());
  return f;
}

// ---- math spans: $...$, $$...$$, \(...\), \[...\] ----

struct Span {
  size_t start = 0, end = 0;
  std::string content;
};

// Start of the closing delimiter from `from` (a backslash escapes the next character unless
// the delimiter itself starts with one); npos when absent or, with one_line, after a newline.
// `stop` is where a failed search ended: an opener before it cannot be closed either.
size_t find_close(std::string_view t, size_t from, std::string_view close, bool one_line,
                  size_t& stop) {
  for (size_t i = from; i + close.size() <= t.size(); ++i) {
    if (one_line && t[i] == '\n') {
      stop = i;
      return npos;
    }
    if (starts_with(t, i, close)) return i;
    if (t[i] == '\\' && close[0] != '\\') ++i;
  }
  stop = t.size();
  return npos;
}

// A percent sign or word right after a span: "$20$ percent", "$5$\%".
size_t percent_suffix(std::string_view t, size_t p) {
  size_t q = p;
  while (q < t.size() && is_space(t[q])) ++q;
  for (std::string_view w : {"\\%", "%", "percentage", "percent", "pct"}) {
    if (!starts_with(t, q, w)) continue;
    size_t e = q + w.size();
    if (is_letter(w[0]) && e < t.size() && is_letter(t[e])) continue;
    return e;
  }
  return npos;
}

std::vector<Span> find_spans(std::string_view t) {
  std::vector<Span> spans;
  // Per delimiter kind, the position before which a failed search showed there is no closing
  // one: keeps unclosed openers ("\\[\\[\\[...") linear.
  size_t dead[4] = {0, 0, 0, 0};
  for (size_t i = 0; i < t.size();) {
    size_t open = 0, close = npos, kind = 0;
    std::string_view closer;
    bool one_line = false;
    if (starts_with(t, i, "$$") && (i == 0 || t[i - 1] != '\\')) {
      kind = 0, open = 2, closer = "$$";
    } else if (starts_with(t, i, "\\[")) {
      kind = 1, open = 2, closer = "\\]";
    } else if (starts_with(t, i, "\\(")) {
      kind = 2, open = 2, closer = "\\)", one_line = true;
    } else if (t[i] == '$' && (i == 0 || (t[i - 1] != '\\' && !is_digit(t[i - 1])))) {
      kind = 3, open = 1, closer = "$", one_line = true;
    } else {
      ++i;
      continue;
    }
    if (i + open >= dead[kind]) close = find_close(t, i + open, closer, one_line, dead[kind]);
    if (close == npos) {
      i += open;
      continue;
    }
    Span s{i, close + open, std::string(trim(t.substr(i + open, close - i - open)))};
    if (size_t pct = percent_suffix(t, s.end); pct != npos) {
      s.content += "\\%";
      s.end = pct;
    }
    if (!s.content.empty()) spans.push_back(std::move(s));
    i = close + open;
  }
  return spans;
}

// Whether the text between two spans joins them into one answer: ",", "and", "or", ", and".
bool joins_spans(std::string_view between) {
  auto s = trim(between);
  if (s == ",") return true;
  if (!s.empty() && s[0] == ',') s = trim(s.substr(1));
  return s == "and" || s == "or";
}

// Span k with the spans before it joined to it (at most kMaxParts).
Found span_group(std::string_view t, const std::vector<Span>& spans, size_t k) {
  Found f;
  f.source = AnswerSource::MathSpan;
  f.end = spans[k].end;
  size_t first = k;
  while (first > 0 && k - first + 1 < kMaxParts &&
         joins_spans(t.substr(spans[first - 1].end, spans[first].start - spans[first - 1].end)))
    --first;
  for (size_t i = first; i <= k; ++i) f.parts.push_back(spans[i].content);
  return f;
}

// Whether position p lies inside one of the spans (sorted by start, not overlapping).
bool inside_span(const std::vector<Span>& spans, size_t p) {
  auto it = std::upper_bound(spans.begin(), spans.end(), p,
                             [](size_t q, const Span& s) { return q < s.start; });
  return it != spans.begin() && p < std::prev(it)->end;
}

// "{12}" or "{-0.5}" at p: one past the closing brace, or npos.
size_t braced_number(std::string_view t, size_t p) {
  if (p >= t.size() || t[p] != '{') return npos;
  size_t q = p + 1;
  if (q < t.size() && t[q] == '-') ++q;
  size_t digits = q;
  while (q < t.size() && q - p < 40 && (is_digit(t[q]) || t[q] == '.' || t[q] == ',')) ++q;
  if (q == digits || q >= t.size() || t[q] != '}' || !is_digit(t[digits]) || !is_digit(t[q - 1]))
    return npos;
  return q + 1;
}

// A bare fraction of numbers outside spans: "\frac{3}{4}".
Found last_plain_fraction(std::string_view t, const std::vector<Span>& spans) {
  Found best;
  for (std::string_view cmd : {"\\frac", "\\dfrac"}) {
    for (size_t p = t.find(cmd); p != npos; p = t.find(cmd, p + 1)) {
      size_t b = braced_number(t, p + cmd.size());
      size_t e = b == npos ? npos : braced_number(t, b);
      if (e == npos || inside_span(spans, p)) continue;
      size_t start = p > 0 && t[p - 1] == '-' ? p - 1 : p;
      if (e > best.end)
        best = {{std::string(t.substr(start, e - start))}, e, AnswerSource::MathSpan};
    }
  }
  return best;
}

// ---- plain numbers ----

struct Number {
  size_t start = 0, end = 0;
  std::string value;  // canonical: separators removed, decimal comma as '.', "%" kept
};

bool currency_before(std::string_view t, size_t p, size_t& sign_start) {
  if (p > 0 && t[p - 1] == '$') {
    sign_start = p - 1;
    return true;
  }
  for (std::string_view c : {"\u20ac", "\u00a3", "\u00a5", "\u20b9"}) {  // euro pound yen rupee
    if (p >= c.size() && t.substr(p - c.size(), c.size()) == c) {
      sign_start = p - c.size();
      return true;
    }
  }
  return false;
}

// A number may start at p: at the start, after white space, '=', ':', '(' or "**", possibly
// behind a currency sign (so "$100" counts but the 2 of "XDY2K" does not).
bool anchored(std::string_view t, size_t p) {
  size_t sign = p;
  if (currency_before(t, p, sign)) p = sign;
  if (p == 0) return true;
  char c = t[p - 1];
  return is_space(c) || c == '=' || c == ':' || c == '(' || c == '*';
}

size_t digits_end(std::string_view t, size_t p) {
  while (p < t.size() && is_digit(t[p])) ++p;
  return p;
}

// The number starting at p (after an optional '-'), or an empty value.
Number number_at(std::string_view t, size_t p) {
  Number n;
  n.start = p;
  size_t q = p;
  std::string v;
  if (t[q] == '-') v += t[q++];
  size_t int_end = digits_end(t, q);
  std::string digits(t.substr(q, int_end - q));
  size_t e = int_end;
  // Thousands groups "1,234,567" / "1 234": 1-3 leading digits (not starting with 0), then
  // groups of exactly three.
  if (!digits.empty() && digits.size() <= 3 && digits[0] != '0' && e < t.size() &&
      (t[e] == ',' || t[e] == ' ')) {
    size_t g = e;
    std::string grouped = digits;
    while (g + 3 < t.size() + 1 && g < t.size() && (t[g] == ',' || t[g] == ' ') &&
           digits_end(t, g + 1) == g + 4) {
      grouped += t.substr(g + 1, 3);
      g += 4;
    }
    if (g > e) {
      digits = grouped;
      e = g;
    }
  }
  if (digits.empty() && !(e < t.size() && t[e] == '.')) return {};
  v += digits.empty() ? "0" : digits;
  // Decimals: "." always; "," only when no thousands groups were read ("1000,99" -> 1000.99).
  if (e + 1 < t.size() && (t[e] == '.' || (t[e] == ',' && e == int_end)) && is_digit(t[e + 1])) {
    size_t d = digits_end(t, e + 1);
    v += "." + std::string(t.substr(e + 1, d - e - 1));
    e = d;
  } else if (e + 1 < t.size() && t[e] == '/' && is_digit(t[e + 1])) {  // "3/4"
    size_t d = digits_end(t, e + 1);
    v += "/" + std::string(t.substr(e + 1, d - e - 1));
    e = d;
  }
  if (size_t pct = percent_suffix(t, e); pct != npos) {
    v += "%";
    e = pct;
  }
  n.end = e;
  n.value = v;
  return n;
}

std::vector<Number> find_numbers(std::string_view t) {
  std::vector<Number> out;
  for (size_t i = 0; i < t.size();) {
    bool minus = t[i] == '-' && i + 1 < t.size() && (is_digit(t[i + 1]) || t[i + 1] == '.');
    bool starts = is_digit(t[i]) || (t[i] == '.' && i + 1 < t.size() && is_digit(t[i + 1]));
    if (!minus && !starts) {
      ++i;
      continue;
    }
    Number n = number_at(t, i);
    if (n.value.empty() || n.end <= i) {
      ++i;
      continue;
    }
    // A token glued to letters, digits or a point before it is part of something else.
    bool glued = i > 0 && (std::isalnum(static_cast<unsigned char>(t[i - 1])) || t[i - 1] == '.' ||
                           t[i - 1] == '_' || t[i - 1] == '^');
    if (!glued && anchored(t, i)) out.push_back(n);
    i = n.end;
  }
  return out;
}

// ---- everything found in one text ----

struct Scan {
  std::string_view t;
  std::vector<Span> spans;
  std::vector<Number> numbers;
  Scan(std::string_view text, const ExtractOptions& o) : t(text) {
    if (o.latex) spans = find_spans(text);
    if (!o.plain_numbers) return;
    // numbers inside spans are part of the span's math
    for (auto& n : find_numbers(text))
      if (!inside_span(spans, n.start)) numbers.push_back(std::move(n));
  }

  // Index of the first span / number starting at or after p.
  size_t span_from(size_t p) const {
    return std::lower_bound(spans.begin(), spans.end(), p,
                            [](const Span& s, size_t q) { return s.start < q; }) -
           spans.begin();
  }
  size_t number_from(size_t p) const {
    return std::lower_bound(numbers.begin(), numbers.end(), p,
                            [](const Number& n, size_t q) { return n.start < q; }) -
           numbers.begin();
  }

  Found number(size_t i) const {
    return {{numbers[i].value}, numbers[i].end, AnswerSource::LastNumber};
  }

  // The first span (with the spans joined to it) and the first number that start in
  // [from, from + window]; the one ending later wins, as in Math-Verify's ordering.
  Found first_value(size_t from, size_t window, bool number_after_equals) const {
    Found span, num;
    if (size_t k = span_from(from); k < spans.size() && spans[k].start <= from + window) {
      size_t last = k;  // spans joined after it belong to the same answer
      while (last + 1 < spans.size() && last - k + 1 < kMaxParts &&
             joins_spans(t.substr(spans[last].end, spans[last + 1].start - spans[last].end)))
        ++last;
      span = span_group(t, spans, last);
    }
    auto followed_by_equals = [&](const Number& n) {
      size_t q = n.end;
      while (q < t.size() && is_space(t[q])) ++q;
      return q < t.size() && t[q] == '=';
    };
    size_t first = number_from(from);
    if (number_after_equals) {  // "Answer: 2x = 10" -> 10: the value after the last '='
      for (size_t i = first; i < numbers.size() && numbers[i].start <= from + 100; ++i) {
        const Number& n = numbers[i];
        size_t q = n.start;
        while (q > from && is_space(t[q - 1])) --q;
        if (q > from && t[q - 1] == '=' && !followed_by_equals(n)) num = number(i);
      }
    }
    for (size_t i = first; !num && i < numbers.size() && numbers[i].start <= from + window; ++i)
      if (!followed_by_equals(numbers[i])) num = number(i);
    if (span && (!num || span.end > num.end)) return span;
    return num;
  }
};

// "final answer is $X$. I hope" (the closing line of Minerva-style answers): it competes with
// boxes, the later one wins.
Found final_answer_hope(const Scan& s, const std::string& low) {
  for (size_t p = low.rfind("final answer is"); p != npos;
       p = p == 0 ? npos : low.rfind("final answer is", p - 1)) {
    size_t q = p + 15;
    if (q < low.size() && low[q] == ':') ++q;
    while (q < low.size() && is_space(low[q])) ++q;
    Found v = s.first_value(q, 0, false);
    if (!v) continue;
    size_t e = v.end;
    if (e < low.size() && low[e] == '.') ++e;
    if (e < low.size() && is_space(low[e])) ++e;
    if (!starts_with(low, e, "i hope")) continue;
    v.source = AnswerSource::Phrase;
    v.end = e + 6;
    return v;
  }
  return {};
}

// Phrases, strongest first: "final answer ... is X", "answer: X", "answer ... X".
Found phrase_answer(const Scan& s, const std::string& low) {
  for (size_t p = low.rfind("final answer"); p != npos;
       p = p == 0 ? npos : low.rfind("final answer", p - 1)) {
    size_t limit = std::min(low.size(), p + 12 + 100);
    for (size_t q = low.find("is", p + 12); q != npos && q < limit; q = low.find("is", q + 1)) {
      if (!is_space(low[q - 1]) || (q + 2 < low.size() && is_letter(low[q + 2]))) continue;
      size_t v = q + 2;
      if (v < low.size() && low[v] == ':') ++v;
      while (v < low.size() && is_space(low[v])) ++v;
      if (Found f = s.first_value(v, 0, false)) {
        f.source = AnswerSource::Phrase;
        return f;
      }
      break;
    }
  }
  for (std::string_view phrase : {"answer:", "answer"}) {
    for (size_t p = low.rfind(phrase); p != npos; p = p == 0 ? npos : low.rfind(phrase, p - 1)) {
      if (Found f = s.first_value(p + phrase.size(), 50, true)) {
        f.source = AnswerSource::Phrase;
        return f;
      }
    }
  }
  return {};
}

// The last math span group, bare fraction or number, whichever ends last.
Found last_value(const Scan& s, bool latex) {
  Found best = latex ? last_plain_fraction(s.t, s.spans) : Found{};
  if (!s.spans.empty()) {
    Found g = span_group(s.t, s.spans, s.spans.size() - 1);
    if (g.end > best.end) best = g;
  }
  if (!s.numbers.empty() && s.numbers.back().end > best.end) best = s.number(s.numbers.size() - 1);
  return best;
}

bool has_math_delimiters(std::string_view t) {
  return t.find('$') != npos || t.find("\\(") != npos || t.find("\\[") != npos;
}

}  // namespace

const char* answer_source_name(AnswerSource s) {
  switch (s) {
    case AnswerSource::None:
      return "none";
    case AnswerSource::Boxed:
      return "boxed";
    case AnswerSource::AnswerTag:
      return "answer_tag";
    case AnswerSource::Phrase:
      return "phrase";
    case AnswerSource::MathSpan:
      return "math_span";
    case AnswerSource::LastNumber:
      return "last_number";
  }
  return "none";
}

std::string_view strip_reasoning(std::string_view completion) {
  size_t p = completion.rfind("</think>");
  if (p == npos) return completion;
  return completion.substr(p + 8);
}

std::string last_boxed(std::string_view t) {
  auto boxes = find_boxes(t, false);
  return boxes.empty() ? "" : boxes.back().content;
}

std::string last_number(std::string_view t) {
  auto numbers = find_numbers(t);
  return numbers.empty() ? "" : numbers.back().value;
}

ExtractedAnswer extract_math_answer(std::string_view completion, const ExtractOptions& o) {
  std::string_view t = strip_reasoning(completion);
  auto boxes = o.latex ? find_boxes(t, false) : std::vector<Box>{};
  Found boxed = boxes.empty() ? Found{} : box_group(t, boxes);
  if (!o.fallbacks) return to_answer(boxed);
  Scan scan(t, o);
  std::string low = text::lower(t);
  Found hope = final_answer_hope(scan, low);
  if (boxed || hope) return to_answer(hope.end > boxed.end ? hope : boxed);
  if (size_t open = t.rfind("<answer>"); open != npos) {
    size_t close = t.find("</answer>", open);
    auto inner =
        trim(t.substr(open + 8, close == npos ? npos : close - open - 8));  // R1-Zero's tags
    if (has_math_delimiters(inner)) {
      ExtractedAnswer e = extract_math_answer(inner, o);
      if (e.source != AnswerSource::None) {
        e.source = AnswerSource::AnswerTag;
        return e;
      }
    }
    if (!inner.empty()) return {std::string(inner), AnswerSource::AnswerTag, {std::string(inner)}};
  }
  if (Found f = phrase_answer(scan, low)) return to_answer(f);
  return to_answer(last_value(scan, o.latex));
}

ExtractedAnswer gold_math_answer(std::string_view gold) {
  auto boxes = find_boxes(gold, true);
  if (!boxes.empty()) return to_answer(box_group(gold, boxes));
  if (has_math_delimiters(gold)) {
    Scan scan(gold, ExtractOptions{});
    if (!scan.spans.empty()) return to_answer(span_group(gold, scan.spans, scan.spans.size() - 1));
  }
  return {std::string(gold), AnswerSource::None, {std::string(gold)}};
}

}  // namespace r1::eval
