#include "tokenizer/template/str_methods.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/error.h"
#include "tokenizer/template/budget.h"
#include "tokenizer/unicode.h"

namespace r1::tmpl {

namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string arg_str(const CallArgs& a, size_t k, const std::string& name, const char* method) {
  const Value* v = a.get(k, name);
  if (!v || !v->is_string())
    fail_input("str.", method, "() expects a string argument '", name, "'");
  return v->s;
}

int64_t arg_int(const CallArgs& a, size_t k, const std::string& name, int64_t def) {
  const Value* v = a.get(k, name);
  if (!v || v->is_none()) return def;
  if (v->type != Type::Int) fail_input("expected an integer for '", name, "'");
  return v->i;
}

// str.split / str.rsplit. sep null or None: runs of whitespace, no empty strings.
Value split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (!sep || sep->is_none()) {
    std::vector<std::pair<size_t, size_t>> words;  // [begin, end)
    size_t k = 0;
    while (k < s.size()) {
      while (k < s.size() && is_ws(s[k])) ++k;
      if (k >= s.size()) break;
      size_t b = k;
      while (k < s.size() && !is_ws(s[k])) ++k;
      words.emplace_back(b, k);
    }
    size_t n = words.size();
    if (maxsplit < 0 || static_cast<size_t>(maxsplit) + 1 >= n) {
      for (auto& w : words) parts.push_back(s.substr(w.first, w.second - w.first));
    } else if (!from_right) {
      size_t m = static_cast<size_t>(maxsplit);
      for (size_t j = 0; j < m; ++j)
        parts.push_back(s.substr(words[j].first, words[j].second - words[j].first));
      parts.push_back(s.substr(words[m].first));  // the remainder keeps its trailing spaces
    } else {
      size_t m = static_cast<size_t>(maxsplit);
      size_t first_kept = n - m;
      parts.push_back(s.substr(0, words[first_kept - 1].second));  // keeps leading spaces
      for (size_t j = first_kept; j < n; ++j)
        parts.push_back(s.substr(words[j].first, words[j].second - words[j].first));
    }
  } else {
    if (!sep->is_string()) fail_input("str.split() separator must be a string");
    const std::string& d = sep->s;
    if (d.empty()) fail_input("str.split(): empty separator");
    std::vector<size_t> hits;
    for (size_t p = s.find(d); p != std::string::npos; p = s.find(d, p + d.size()))
      hits.push_back(p);
    if (maxsplit >= 0 && hits.size() > static_cast<size_t>(maxsplit)) {
      if (from_right)
        hits.erase(hits.begin(), hits.end() - maxsplit);
      else
        hits.resize(static_cast<size_t>(maxsplit));
    }
    size_t b = 0;
    for (size_t h : hits) {
      parts.push_back(s.substr(b, h - b));
      b = h + d.size();
    }
    parts.push_back(s.substr(b));
  }
  List out;
  for (auto& p : parts) out.push_back(Value::string(p));
  return Value::make_list(std::move(out));
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const std::string& x) {
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0
                  : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_string()) return one(affix.s);
  if (affix.is_list()) {
    for (const auto& x : *affix.list)
      if (x.is_string() && one(x.s)) return true;
    return false;
  }
  fail_input("startswith/endswith expects a string or a tuple of strings");
}

int64_t cp_index(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(utf8_length(s.substr(0, byte_pos)));
}

}  // namespace

std::string py_strip(const std::string& s, const Value* chars, bool left, bool right) {
  std::vector<std::string> cps = utf8_chars(s);
  std::vector<std::string> set;
  bool ws = !chars || chars->is_none() || chars->is_undefined();
  if (!ws) set = utf8_chars(to_str(*chars));
  auto strip_it = [&](const std::string& c) {
    if (ws)
      return c.size() == 1 &&
             (is_ws(c[0]) || c[0] == '\x1c' || c[0] == '\x1d' || c[0] == '\x1e' || c[0] == '\x1f');
    for (const auto& x : set)
      if (x == c) return true;
    return false;
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  std::string out;
  for (size_t k = b; k < e; ++k) out += cps[k];
  return out;
}

namespace {

// Simple (one to one) case mapping for Latin-1, Latin Extended-A, Greek and Cyrillic; other code
// points are unchanged (Python's special cases such as "ß".upper() == "SS" are not handled).
uint32_t map_case(uint32_t cp, bool upper) {
  if (cp < 0x80) {
    if (upper && cp >= 'a' && cp <= 'z') return cp - 32;
    if (!upper && cp >= 'A' && cp <= 'Z') return cp + 32;
    return cp;
  }
  if (cp >= 0xC0 && cp <= 0xFE && cp != 0xD7 && cp != 0xF7 && cp != 0xDF) {
    bool is_upper = cp <= 0xDE;
    if (upper && !is_upper) return cp - 0x20;
    if (!upper && is_upper) return cp + 0x20;
    return cp;
  }
  if (cp == 0xFF) return upper ? 0x178 : cp;
  if (cp == 0x178) return upper ? cp : 0xFF;
  if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177)) {
    bool is_upper = cp % 2 == 0;
    if (upper && !is_upper) return cp - 1;
    if (!upper && is_upper) return cp + 1;
    return cp;
  }
  if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) {
    bool is_upper = cp % 2 == 1;
    if (upper && !is_upper) return cp - 1;
    if (!upper && is_upper) return cp + 1;
    return cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return upper ? cp : cp + 0x20;
  if (cp >= 0x3B1 && cp <= 0x3C9) return upper ? (cp == 0x3C2 ? 0x3A3 : cp - 0x20) : cp;
  if (cp >= 0x410 && cp <= 0x42F) return upper ? cp : cp + 0x20;
  if (cp >= 0x430 && cp <= 0x44F) return upper ? cp - 0x20 : cp;
  if (cp >= 0x400 && cp <= 0x40F) return upper ? cp : cp + 0x50;
  if (cp >= 0x450 && cp <= 0x45F) return upper ? cp - 0x50 : cp;
  return cp;
}

uint32_t decode_cp(const std::string& c) {
  unsigned char b = static_cast<unsigned char>(c[0]);
  if (c.size() == 1) return b;
  uint32_t cp = c.size() == 2 ? (b & 0x1F) : c.size() == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < c.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(c[k]) & 0x3F);
  return cp;
}

// mode: 'l' lower, 'u' upper, 't' title (upper after a non-cased character, else lower).
std::string convert_case(const std::string& s, char mode) {
  std::string out;
  bool prev_cased = false;
  for (const auto& c : utf8_chars(s)) {
    uint32_t cp = decode_cp(c);
    if (c.size() > 1 && (cp < 0x80 || cp > 0x10FFFF)) {  // invalid UTF-8: copy bytes
      out += c;
      prev_cased = false;
      continue;
    }
    bool cased = map_case(cp, true) != cp || map_case(cp, false) != cp;
    bool up = mode == 'u' || (mode == 't' && !prev_cased);
    tok::append_utf8(out, map_case(cp, up));
    prev_cased = cased;
  }
  return out;
}

}  // namespace

std::string py_lower(const std::string& s) {
  return convert_case(s, 'l');
}
std::string py_upper(const std::string& s) {
  return convert_case(s, 'u');
}
std::string py_title(const std::string& s) {
  return convert_case(s, 't');
}

std::string py_capitalize(const std::string& s) {
  std::vector<std::string> chars = utf8_chars(s);
  if (chars.empty()) return s;
  std::string rest;
  for (size_t k = 1; k < chars.size(); ++k) rest += chars[k];
  return py_upper(chars[0]) + py_lower(rest);
}

std::string py_replace(const std::string& s, const std::string& old_s, const std::string& new_s,
                       int64_t count) {
  std::string out;
  if (old_s.empty()) {
    // Python inserts new_s before every code point and at the end.
    int64_t done = 0;
    for (const auto& c : utf8_chars(s)) {
      if (count < 0 || done < count) {
        budget::room(out.size() + new_s.size() + c.size());
        out += new_s;
        ++done;
      }
      out += c;
    }
    if (count < 0 || done < count) out += new_s;
    return out;
  }
  size_t b = 0;
  int64_t done = 0;
  for (size_t p = s.find(old_s); p != std::string::npos && (count < 0 || done < count);
       p = s.find(old_s, b)) {
    budget::room(out.size() + (p - b) + new_s.size());
    out.append(s, b, p - b);
    out += new_s;
    b = p + old_s.size();
    ++done;
  }
  return out + s.substr(b);
}

std::string py_indent(const std::string& s, const std::string& pad, bool first, bool blank) {
  std::string out;
  size_t b = 0;
  bool is_first = true;
  while (true) {
    size_t e = s.find('\n', b);
    std::string line = s.substr(b, e == std::string::npos ? std::string::npos : e - b);
    bool indent = is_first ? first : (blank || !py_strip(line, nullptr, true, true).empty());
    if (indent) out += pad;
    out += line;
    if (e == std::string::npos) break;
    out += '\n';
    b = e + 1;
    is_first = false;
  }
  return out;
}

std::string py_percent_format(const std::string& fmt, const List& args) {
  std::string out;
  size_t next = 0;
  auto take = [&]() -> const Value& {
    if (next >= args.size()) fail_input("not enough arguments for format string");
    return args[next++];
  };
  for (size_t k = 0; k < fmt.size(); ++k) {
    if (fmt[k] != '%') {
      out += fmt[k];
      continue;
    }
    size_t start = k++;
    std::string flags;
    while (k < fmt.size() && std::string("-+ 0#").find(fmt[k]) != std::string::npos)
      flags += fmt[k++];
    std::string width, precision;
    bool has_precision = false;
    while (k < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[k]))) width += fmt[k++];
    if (k < fmt.size() && fmt[k] == '.') {
      has_precision = true;
      ++k;
      while (k < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[k])))
        precision += fmt[k++];
    }
    if (k >= fmt.size()) fail_input("incomplete format in '", fmt, "'");
    char conv = fmt[k];
    if (conv == '(' || conv == '*' || width.size() > 4 || precision.size() > 4)
      fail_input("unsupported format '", fmt.substr(start, k - start + 1), "'");
    if (conv == '%') {
      out += '%';
      continue;
    }
    std::string spec = "%" + flags + width + (has_precision ? "." + precision : "");
    char buf[512];
    if (conv == 's' || conv == 'r' || conv == 'a') {
      const Value& v = take();
      std::string text = conv == 's' ? to_str(v) : to_repr(v);
      std::vector<std::string> cps = utf8_chars(text);
      size_t keep = has_precision ? std::min(cps.size(), static_cast<size_t>(std::stoul(
                                                             precision.empty() ? "0" : precision)))
                                  : cps.size();
      std::string cut;
      for (size_t j = 0; j < keep; ++j) cut += cps[j];
      size_t w = width.empty() ? 0 : std::stoul(width);
      std::string pad(w > keep ? w - keep : 0, ' ');
      out += flags.find('-') != std::string::npos ? cut + pad : pad + cut;
    } else if (conv == 'd' || conv == 'i' || conv == 'u' || conv == 'x' || conv == 'X' ||
               conv == 'o' || conv == 'c') {
      const Value& v = take();
      if (!v.is_number())
        fail_input("%", conv, " format: a number is required, not ", type_name(v));
      long long n = v.type == Type::Float  ? static_cast<long long>(v.f)
                    : v.type == Type::Bool ? v.b
                                           : v.i;
      if (conv == 'c') {
        if (n < 0 || n > 0x10FFFF) fail_input("%c arg not in range(0x110000)");
        tok::append_utf8(out, static_cast<uint32_t>(n));
        continue;
      }
      char c = conv == 'i' || conv == 'u' ? 'd' : conv;
      if ((c == 'x' || c == 'X' || c == 'o') && n < 0) {
        std::snprintf(buf, sizeof(buf), (spec + "ll" + c).c_str(), -n);
        std::string body(buf);
        size_t first = body.find_first_not_of(' ');
        body.insert(first == std::string::npos ? 0 : first, "-");
        out += body;
      } else {
        std::snprintf(buf, sizeof(buf), (spec + "ll" + c).c_str(), n);
        out += buf;
      }
      if (flags.find('#') != std::string::npos && c == 'o') {
        size_t z = out.rfind('0');
        if (z != std::string::npos) out.insert(z + 1, "o");  // Python writes 0o17, C writes 017
      }
    } else if (std::string("fFeEgG").find(conv) != std::string::npos) {
      const Value& v = take();
      if (!v.is_number())
        fail_input("%", conv, " format: a real number is required, not ", type_name(v));
      std::snprintf(buf, sizeof(buf), (spec + conv).c_str(), v.as_double());
      out += buf;
    } else {
      fail_input("unsupported format character '", conv, "'");
    }
  }
  if (next < args.size()) fail_input("not all arguments converted during string formatting");
  return out;
}

std::string py_str_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t k = 0; k < fmt.size(); ++k) {
    char c = fmt[k];
    if (c == '}') {
      if (k + 1 < fmt.size() && fmt[k + 1] == '}') {
        out += '}';
        ++k;
        continue;
      }
      fail_input("str.format: single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (k + 1 < fmt.size() && fmt[k + 1] == '{') {
      out += '{';
      ++k;
      continue;
    }
    size_t close = fmt.find('}', k);
    if (close == std::string::npos) fail_input("str.format: unmatched '{'");
    std::string field = fmt.substr(k + 1, close - k - 1);
    if (field.find_first_of(":!.[") != std::string::npos)
      fail_input("str.format: format specs and conversions are not supported ('{", field, "}')");
    const Value* v = nullptr;
    if (field.empty()) {
      if (used_manual) fail_input("str.format: cannot switch from manual to automatic numbering");
      used_auto = true;
      if (auto_index >= args.positional.size()) fail_input("str.format: not enough arguments");
      v = &args.positional[auto_index++];
    } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
      if (used_auto) fail_input("str.format: cannot switch from automatic to manual numbering");
      used_manual = true;
      auto i = parse_int(field);
      if (!i || static_cast<uint64_t>(*i) >= args.positional.size())
        fail_input("str.format: index ", field, " out of range");
      v = &args.positional[static_cast<size_t>(*i)];
    } else {
      for (const auto& kv : args.keyword)
        if (kv.first == field) v = &kv.second;
      if (!v) fail_input("str.format: no argument named '", field, "'");
    }
    out += to_str(*v);
    k = close;
  }
  return out;
}

Value string_method(const std::string& s, const std::string& name) {
  auto bind = [&](auto fn) {
    return Value::callable([s, fn](CallArgs& a) -> Value { return fn(s, a); });
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool left = name != "rstrip", right = name != "lstrip";
    return bind([left, right](const std::string& x, CallArgs& a) {
      return Value::string(py_strip(x, a.get(0, "chars"), left, right));
    });
  }
  if (name == "split" || name == "rsplit") {
    bool from_right = name == "rsplit";
    return bind([from_right](const std::string& x, CallArgs& a) {
      return split(x, a.get(0, "sep"), arg_int(a, 1, "maxsplit", -1), from_right);
    });
  }
  if (name == "startswith" || name == "endswith") {
    bool prefix = name == "startswith";
    return bind([prefix](const std::string& x, CallArgs& a) {
      const Value* affix = a.get(0, "prefix");
      if (!affix) fail_input("startswith/endswith needs an argument");
      return Value::boolean(affix_match(x, *affix, prefix));
    });
  }
  if (name == "upper")
    return bind([](const std::string& x, CallArgs&) { return Value::string(py_upper(x)); });
  if (name == "lower")
    return bind([](const std::string& x, CallArgs&) { return Value::string(py_lower(x)); });
  if (name == "title")
    return bind([](const std::string& x, CallArgs&) { return Value::string(py_title(x)); });
  if (name == "capitalize")
    return bind([](const std::string& x, CallArgs&) { return Value::string(py_capitalize(x)); });
  if (name == "replace") {
    return bind([](const std::string& x, CallArgs& a) {
      return Value::string(py_replace(x, arg_str(a, 0, "old", "replace"),
                                      arg_str(a, 1, "new", "replace"), arg_int(a, 2, "count", -1)));
    });
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    std::string method = name;
    return bind([method](const std::string& x, CallArgs& a) {
      std::string sub = arg_str(a, 0, "sub", method.c_str());
      if (method == "count") {
        if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(x)) + 1);
        int64_t n = 0;
        for (size_t p = x.find(sub); p != std::string::npos; p = x.find(sub, p + sub.size())) ++n;
        return Value::integer(n);
      }
      size_t p = method[0] == 'r' ? x.rfind(sub) : x.find(sub);
      if (p == std::string::npos) {
        if (method == "index" || method == "rindex")
          fail_input("str.", method, "(): substring not found");
        return Value::integer(-1);
      }
      return Value::integer(cp_index(x, p));
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
      name == "islower" || name == "isupper") {
    std::string method = name;
    return bind([method](const std::string& x, CallArgs&) {
      if (x.empty()) return Value::boolean(false);
      bool ok = true, cased = false;
      for (unsigned char c : x) {
        if (method == "isdigit") ok = ok && std::isdigit(c);
        if (method == "isalpha") ok = ok && std::isalpha(c);
        if (method == "isalnum") ok = ok && std::isalnum(c);
        if (method == "isspace") ok = ok && is_ws(static_cast<char>(c));
        if (method == "islower") ok = ok && !std::isupper(c), cased = cased || std::islower(c);
        if (method == "isupper") ok = ok && !std::islower(c), cased = cased || std::isupper(c);
      }
      if (method == "islower" || method == "isupper") ok = ok && cased;
      return Value::boolean(ok);
    });
  }
  if (name == "splitlines") {
    return bind([](const std::string& x, CallArgs&) {
      List out;
      size_t b = 0;
      while (b < x.size()) {
        size_t e = x.find_first_of("\r\n", b);
        if (e == std::string::npos) {
          out.push_back(Value::string(x.substr(b)));
          break;
        }
        out.push_back(Value::string(x.substr(b, e - b)));
        b = e + ((x[e] == '\r' && e + 1 < x.size() && x[e + 1] == '\n') ? 2 : 1);
      }
      return Value::make_list(std::move(out));
    });
  }
  if (name == "format")
    return bind(
        [](const std::string& x, CallArgs& a) { return Value::string(py_str_format(x, a)); });
  if (name == "join") {
    return bind([](const std::string& x, CallArgs& a) {
      const Value* items = a.get(0, "iterable");
      if (!items || !items->is_list()) fail_input("str.join() expects a list");
      std::string out;
      for (size_t k = 0; k < items->list->size(); ++k) {
        const Value& v = (*items->list)[k];
        if (!v.is_string())
          fail_input("str.join(): sequence item ", k, ": expected str, ", type_name(v), " found");
        if (k > 0) out += x;
        out += v.s;
      }
      return Value::string(out);
    });
  }
  return Value::undefined(name);
}

Value dict_method(const Value& d, const std::string& name) {
  std::shared_ptr<Dict> dict = d.dict;
  if (name == "get") {
    return Value::callable([dict](CallArgs& a) -> Value {
      const Value* key = a.get(0, "key");
      if (!key) fail_input("dict.get() needs a key");
      const Value* def = a.get(1, "default");
      const Value* v = key->is_string() ? dict->find(key->s) : nullptr;
      return v ? *v : def ? *def : Value::none();
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    int which = name == "items" ? 0 : name == "keys" ? 1 : 2;
    return Value::callable([dict, which](CallArgs&) {
      List out;
      for (const auto& kv : dict->items) {
        if (which == 0) out.push_back(Value::make_tuple({Value::string(kv.first), kv.second}));
        if (which == 1) out.push_back(Value::string(kv.first));
        if (which == 2) out.push_back(kv.second);
      }
      return Value::make_list(std::move(out));
    });
  }
  return Value::undefined(name);
}

}  // namespace r1::tmpl
