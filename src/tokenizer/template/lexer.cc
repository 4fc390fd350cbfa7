// The lexer follows jinja2 3.x (lexer.py) as Hugging Face configures it:
// - newlines are normalised to "\n" and one trailing newline of the template is dropped
//   (keep_trailing_newline=False);
// - "{%-", "{{-", "{#-" strip all whitespace before the tag; "-%}", "-}}", "-#}" strip all
//   whitespace after it;
// - trim_blocks: a block or comment end ("%}", "#}") eats one newline right after it;
// - lstrip_blocks: spaces and tabs between the start of a line and a block or comment tag are
//   dropped ("{%+" disables this). A text chunk counts as starting a line when the previous tag's
//   consumed text ended with "\n" (or at the start of the template), as jinja2's line_starting.
#include <cctype>
#include <cstdint>

#include "core/error.h"
#include "tokenizer/template/ast.h"
#include "tokenizer/unicode.h"

namespace r1::tmpl {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Python's "unicode-escape" decoding, which jinja2 applies to string literals.
std::string decode_escapes(const std::string& raw, int line) {
  std::string out;
  for (size_t k = 0; k < raw.size(); ++k) {
    if (raw[k] != '\\' || k + 1 >= raw.size()) {
      out += raw[k];
      continue;
    }
    char c = raw[++k];
    auto hex = [&](size_t n) {
      if (k + n >= raw.size())
        fail_input("chat template line ", line, ": truncated \\", c, " escape in string");
      uint32_t cp = 0;
      for (size_t d = 1; d <= n; ++d) {
        char h = raw[k + d];
        if (!std::isxdigit(static_cast<unsigned char>(h)))
          fail_input("chat template line ", line, ": bad \\", c, " escape in string");
        cp = cp * 16 +
             static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                       ? h - '0'
                                       : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10);
      }
      k += n;
      tok::append_utf8(out, cp);
    };
    switch (c) {
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\n':
        break;  // line continuation
      case 'x':
        hex(2);
        break;
      case 'u':
        hex(4);
        break;
      case 'U':
        hex(8);
        break;
      default:
        if (c >= '0' && c <= '7') {
          uint32_t cp = 0;
          size_t n = 0;
          while (n < 3 && k < raw.size() && raw[k] >= '0' && raw[k] <= '7') {
            cp = cp * 8 + static_cast<uint32_t>(raw[k] - '0');
            ++k;
            ++n;
          }
          --k;
          tok::append_utf8(out, cp);
        } else {
          out += '\\';
          out += c;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : src_(std::move(src)) {}

  std::vector<Token> run() {
    bool line_starting = true;
    size_t pos = 0;
    while (pos < src_.size()) {
      size_t tag = find_tag(pos);
      std::string text = src_.substr(pos, tag == std::string::npos ? std::string::npos : tag - pos);
      int text_line = line_;
      for (char c : text)
        if (c == '\n') ++line_;
      if (tag == std::string::npos) {
        emit(Tok::Text, text, text_line);
        break;
      }
      char kind = src_[tag + 1];
      char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      strip_before_tag(text, sign, kind, line_starting);
      emit(Tok::Text, text, text_line);
      pos = tag + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      size_t end_start = 0;
      if (kind == '#') {
        size_t close = src_.find("#}", pos);
        if (close == std::string::npos)
          fail_input("chat template line ", line_, ": unclosed comment");
        for (size_t k = pos; k < close; ++k)
          if (src_[k] == '\n') ++line_;
        char end_sign = close > pos ? src_[close - 1] : '\0';
        end_start = close;
        pos = close + 2;
        pos = after_end(pos, end_sign == '-', end_sign != '+');
      } else {
        bool block = kind == '%';
        if (block && is_raw(pos)) {
          pos = lex_raw(pos, line_starting);
          continue;
        }
        emit(block ? Tok::BlockBegin : Tok::VarBegin, "", line_);
        bool strip = false, trim = false;
        pos = lex_inside(pos, block, strip, trim);
        end_start = pos;
        pos = after_end(pos, strip, block && trim);
      }
      line_starting = pos > end_start && src_[pos - 1] == '\n';
    }
    emit(Tok::End, "", line_);
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t pos) const {
    for (size_t k = src_.find('{', pos); k != std::string::npos; k = src_.find('{', k + 1)) {
      if (k + 1 < src_.size() && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#'))
        return k;
    }
    return std::string::npos;
  }

  // Whitespace control before a tag: "-" strips all whitespace; else lstrip_blocks drops the
  // spaces between the start of the line and a block or comment tag.
  static void strip_before_tag(std::string& text, char sign, char kind, bool line_starting) {
    if (sign == '-') {
      size_t e = text.size();
      while (e > 0 && is_space(text[e - 1])) --e;
      text.resize(e);
    } else if (sign != '+' && kind != '{') {
      size_t l_pos = text.rfind('\n');
      l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
      if ((l_pos > 0 || line_starting) && l_pos < text.size()) {
        bool all_ws = true;
        for (size_t k = l_pos; k < text.size(); ++k) all_ws = all_ws && is_space(text[k]);
        if (all_ws) text.resize(l_pos);
      }
    }
  }

  size_t skip_spaces(size_t p) const {
    while (p < src_.size() && is_space(src_[p])) ++p;
    return p;
  }

  void count_lines(size_t from, size_t to) {
    for (size_t k = from; k < to && k < src_.size(); ++k)
      if (src_[k] == '\n') ++line_;
  }

  // {% raw %}...{% endraw %}: pos is just after "{%" (and its sign). The body is emitted as text.
  // As in jinja2, "{% raw %}" trims no newline (only "-%}" strips), while "{% endraw %}" takes
  // the usual whitespace control, lstrip_blocks and trim_blocks.
  size_t lex_raw(size_t pos, bool& line_starting) {
    int start_line = line_;
    size_t p = skip_spaces(pos) + 3;
    p = skip_spaces(p);
    size_t end_start = p;
    if (src_.compare(p, 3, "-%}") == 0) {
      p = skip_spaces(p + 3);
    } else if (src_.compare(p, 2, "%}") == 0) {
      p += 2;
    } else {
      fail_input("chat template line ", line_, ": expected '%}' after raw");
    }
    count_lines(pos, p);
    bool body_line_starting = p > end_start && src_[p - 1] == '\n';
    for (size_t q = src_.find("{%", p); q != std::string::npos; q = src_.find("{%", q + 2)) {
      size_t r = q + 2;
      char sign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r++] : '\0';
      r = skip_spaces(r);
      if (src_.compare(r, 6, "endraw") != 0) continue;
      r = skip_spaces(r + 6);
      char end_sign = r < src_.size() && (src_[r] == '-' || src_[r] == '+') ? src_[r++] : '\0';
      if (src_.compare(r, 2, "%}") != 0) continue;
      std::string body = src_.substr(p, q - p);
      strip_before_tag(body, sign, '%', body_line_starting);
      int body_line = line_;
      count_lines(p, r + 2);
      emit(Tok::Text, body, body_line);
      size_t after = after_end(r + 2, end_sign == '-', end_sign != '+');
      line_starting = after > r + 2 && src_[after - 1] == '\n';
      return after;
    }
    fail_input("chat template line ", start_line, ": missing {% endraw %}");
  }

  bool is_raw(size_t pos) const {
    while (pos < src_.size() && is_space(src_[pos])) ++pos;
    return src_.compare(pos, 3, "raw") == 0 &&
           (pos + 3 >= src_.size() || !std::isalnum(static_cast<unsigned char>(src_[pos + 3])));
  }

  // Whitespace handling after a tag end at pos (just past "%}", "}}" or "#}").
  size_t after_end(size_t pos, bool strip_all, bool trim_newline) {
    if (strip_all) {
      while (pos < src_.size() && is_space(src_[pos])) {
        if (src_[pos] == '\n') ++line_;
        ++pos;
      }
    } else if (trim_newline && pos < src_.size() && src_[pos] == '\n') {
      ++line_;
      ++pos;
    }
    return pos;
  }

  // Tokens inside {% %} or {{ }}; returns the position just past the closing delimiter.
  size_t lex_inside(size_t pos, bool block, bool& strip, bool& trim) {
    int depth = 0;
    const std::string close = block ? "%}" : "}}";
    while (true) {
      while (pos < src_.size() && is_space(src_[pos])) {
        if (src_[pos] == '\n') ++line_;
        ++pos;
      }
      if (pos >= src_.size())
        fail_input("chat template line ", line_, ": unclosed ", block ? "{%" : "{{");
      if (depth == 0) {
        if (src_.compare(pos, 3, "-" + close) == 0) {
          strip = true;
          emit(block ? Tok::BlockEnd : Tok::VarEnd, "", line_);
          return pos + 3;
        }
        if (block && src_.compare(pos, 3, "+%}") == 0) {
          emit(Tok::BlockEnd, "", line_);
          return pos + 3;
        }
        if (src_.compare(pos, 2, close) == 0) {
          trim = true;
          emit(block ? Tok::BlockEnd : Tok::VarEnd, "", line_);
          return pos + 2;
        }
      }
      char c = src_[pos];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = pos;
        while (e < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_'))
          ++e;
        emit(Tok::Name, src_.substr(pos, e - pos), line_);
        pos = e;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        pos = lex_number(pos);
      } else if (c == '\'' || c == '"') {
        size_t e = pos + 1;
        std::string raw;
        while (e < src_.size() && src_[e] != c) {
          if (src_[e] == '\\' && e + 1 < src_.size()) raw += src_[e++];
          raw += src_[e++];
        }
        if (e >= src_.size())
          fail_input("chat template line ", line_, ": unterminated string literal");
        int start_line = line_;
        for (char ch : raw)
          if (ch == '\n') ++line_;
        emit(Tok::String, decode_escapes(raw, start_line), start_line);
        pos = e + 1;
      } else {
        static const char* two[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* t : two)
          if (src_.compare(pos, 2, t) == 0) op = t;
        if (op.empty()) {
          if (std::string("+-*/%~<>=.,:|()[]{}").find(c) == std::string::npos)
            fail_input("chat template line ", line_, ": unexpected character '", c, "'");
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') ++depth;
          if (c == ')' || c == ']' || c == '}') --depth;
        }
        emit(Tok::Op, op, line_);
        pos += op.size();
      }
    }
  }

  size_t lex_number(size_t pos) {
    size_t e = pos;
    auto digits = [&]() {
      while (e < src_.size() &&
             (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_'))
        ++e;
    };
    digits();
    bool is_float = false;
    if (e + 1 < src_.size() && src_[e] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
      is_float = true;
      ++e;
      digits();
    }
    if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
      size_t m = e + 1;
      if (m < src_.size() && (src_[m] == '+' || src_[m] == '-')) ++m;
      if (m < src_.size() && std::isdigit(static_cast<unsigned char>(src_[m]))) {
        is_float = true;
        e = m;
        digits();
      }
    }
    std::string text;
    for (size_t k = pos; k < e; ++k)
      if (src_[k] != '_') text += src_[k];
    emit(is_float ? Tok::Float : Tok::Int, text, line_);
    return e;
  }

  void emit(Tok kind, std::string text, int line) {
    if (kind == Tok::Text && text.empty()) return;
    tokens_.push_back(Token{kind, std::move(text), line});
  }

  std::string src_;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(const std::string& source) {
  std::string src;
  src.reserve(source.size());
  for (size_t k = 0; k < source.size(); ++k) {
    if (source[k] == '\r') {
      src += '\n';
      if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
    } else {
      src += source[k];
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(std::move(src)).run();
}

}  // namespace r1::tmpl
