#include "tokenizer/tokenizer_json.h"

#include <cstring>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace r1::tok {

namespace {

// A forward-only JSON scanner over the whole file, for the few shapes the model needs.
class Scanner {
 public:
  Scanner(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  template <typename... Args>
  [[noreturn]] void fail(Args&&... args) const {
    fail_input(file_, ": invalid JSON at byte ", pos_, ": ", std::forward<Args>(args)...);
  }
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  char peek() {
    ws();
    if (pos_ >= s_.size()) fail("unexpected end of file");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) fail("expected '", c, "'");
    ++pos_;
  }
  // After an element of an object or array: true if another follows, false at the closing c.
  bool more(char close) {
    const char c = peek();
    ++pos_;
    if (c == ',') return true;
    if (c != close) fail("expected ',' or '", close, "'");
    return false;
  }
  bool at_end() {
    ws();
    return pos_ >= s_.size();
  }

  std::string string() {
    expect('"');
    const size_t start = pos_;
    const char* base = s_.data();
    const void* quote = std::memchr(base + pos_, '"', s_.size() - pos_);
    if (quote == nullptr) fail("unterminated string");
    const size_t end = static_cast<const char*>(quote) - base;
    if (std::memchr(base + start, '\\', end - start) == nullptr) {
      pos_ = end + 1;
      return std::string(s_.substr(start, end - start));
    }
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
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
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (s_.substr(pos_, 2) != "\\u") fail("unpaired surrogate");
            pos_ += 2;
            const uint32_t low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("bad escape");
      }
    }
  }

  int64_t integer() {
    ws();
    const size_t start = pos_;
    bool negative = false;
    if (pos_ < s_.size() && s_[pos_] == '-') {
      negative = true;
      ++pos_;
    }
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      v = v * 10 + (s_[pos_++] - '0');
      if (v > (int64_t(1) << 40)) fail("integer too large");
    }
    if (pos_ == start + (negative ? 1 : 0)) fail("expected an integer");
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
      fail("expected an integer");
    }
    return negative ? -v : v;
  }

  // Skips one value of any kind and returns its text.
  std::string_view value_text() {
    ws();
    const size_t start = pos_;
    skip_value(0);
    return s_.substr(start, pos_ - start);
  }

 private:
  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= uint32_t(c - '0');
      } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
        v |= uint32_t((c | 0x20) - 'a' + 10);
      } else {
        fail("bad \\u escape");
      }
    }
    return v;
  }
  void skip_value(int depth) {
    if (depth > 512) fail("nesting too deep");
    const char c = peek();
    if (c == '"') {
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') pos_ += s_[pos_] == '\\' ? 2 : 1;
      if (pos_ >= s_.size()) fail("unterminated string");
      ++pos_;
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (peek() == close) {
        ++pos_;
        return;
      }
      do {
        if (c == '{') {
          string();
          expect(':');
        }
        skip_value(depth + 1);
      } while (more(close));
    } else {
      while (pos_ < s_.size() && std::strchr(",}] \t\r\n", s_[pos_]) == nullptr) ++pos_;
    }
  }

  std::string_view s_;
  const std::string& file_;
  size_t pos_ = 0;
};

nlohmann::json parse_value(Scanner& in, const std::string& file, const std::string& field) {
  const std::string_view text = in.value_text();
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail_input(file, ": ", field, ": invalid JSON: ", e.what());
  }
}

void parse_model(Scanner& in, TokenizerJson& out, const std::string& file) {
  in.expect('{');
  if (in.peek() == '}') {
    in.expect('}');
    fail_input(file, ": model: empty object");
  }
  bool saw_vocab = false;
  do {
    const std::string key = in.string();
    in.expect(':');
    if (key == "vocab") {
      saw_vocab = true;
      if (in.peek() != '{') fail_input(file, ": model.vocab: expected an object (a BPE vocab)");
      in.expect('{');
      if (in.peek() == '}') {
        in.expect('}');
        continue;
      }
      out.vocab.reserve(1 << 17);
      do {
        std::string token = in.string();
        in.expect(':');
        const int64_t id = in.integer();
        if (id < 0 || id >= kMaxTokenId) {
          fail_input(file, ": model.vocab[\"", token, "\"]: bad id ", id);
        }
        out.vocab.set(token, int32_t(id));
      } while (in.more('}'));
    } else if (key == "merges") {
      if (in.peek() != '[') fail_input(file, ": model.merges: expected an array");
      in.expect('[');
      if (in.peek() == ']') {
        in.expect(']');
        continue;
      }
      out.merges.reserve(300000);
      do {
        if (in.peek() == '[') {
          in.expect('[');
          std::string left = in.string();
          in.expect(',');
          std::string right = in.string();
          in.expect(']');
          out.merges.emplace_back(std::move(left), std::move(right));
        } else {
          const std::string line = in.string();
          const size_t space = line.find(' ');
          if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
            fail_input(file, ": model.merges[", out.merges.size(), "]: \"", line,
                       "\" is not two tokens separated by one space");
          }
          out.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
        }
      } while (in.more(']'));
    } else {
      const nlohmann::json v = parse_value(in, file, "model." + key);
      if (key == "type") {
        if (!v.is_string() || v.get<std::string>() != "BPE") {
          fail_input(file, ": model.type ", v.dump(), " is not supported (only BPE)");
        }
      } else if (key == "ignore_merges") {
        out.ignore_merges = v.is_boolean() && v.get<bool>();
      } else if (key == "fuse_unk") {
        out.fuse_unk = v.is_boolean() && v.get<bool>();
      } else if (key == "unk_token") {
        if (v.is_string()) out.unk_token = v.get<std::string>();
      } else if (key == "byte_fallback") {
        if (v.is_boolean() && v.get<bool>()) {
          fail_input(file, ": model.byte_fallback true is not supported");
        }
      } else if (key == "dropout") {
        if (!v.is_null() && !(v.is_number() && v.get<double>() == 0.0)) {
          fail_input(file, ": model.dropout ", v.dump(), " is not supported");
        }
      } else if (key == "continuing_subword_prefix" || key == "end_of_word_suffix") {
        if (!v.is_null() && !(v.is_string() && v.get<std::string>().empty())) {
          fail_input(file, ": model.", key, " ", v.dump(), " is not supported");
        }
      }
    }
  } while (in.more('}'));
  if (!saw_vocab) fail_input(file, ": model.vocab is missing");
}

}  // namespace

TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& file) {
  TokenizerJson out;
  Scanner in(text, file);
  in.expect('{');
  bool saw_model = false;
  if (in.peek() != '}') {
    do {
      const std::string key = in.string();
      in.expect(':');
      if (key == "model") {
        saw_model = true;
        parse_model(in, out, file);
      } else {
        out.rest[key] = parse_value(in, file, key);
      }
    } while (in.more('}'));
  } else {
    in.expect('}');
  }
  if (!in.at_end()) in.fail("trailing characters");
  if (!saw_model) fail_input(file, ": model is missing");
  return out;
}

}  // namespace r1::tok
