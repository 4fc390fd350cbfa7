#include "tokenizer/pretokenizer.h"

#include <algorithm>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

namespace r1::tok {

namespace {

// GPT-2's split, used by a ByteLevel pre-tokenizer with use_regex (Hugging Face byte_level.rs).
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// One JIT stack and match data per thread, large enough for long runs of one character class.
struct MatchScratch {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_match_data* data = nullptr;
  MatchScratch() {
    stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (stack != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
    data = pcre2_match_data_create(4, nullptr);
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    if (stack != nullptr) pcre2_jit_stack_free(stack);
  }
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

SplitBehavior parse_behavior(const nlohmann::json& v, const std::string& where) {
  const std::string name = v.is_string() ? v.get<std::string>() : "";
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  fail_input(where, ".behavior: unsupported split behavior ", v.dump());
}

bool get_bool(const nlohmann::json& spec, const char* key, bool fallback) {
  const auto it = spec.find(key);
  return it != spec.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

}  // namespace

// Hugging Face compiles these regexes with Oniguruma, where \s (with Unicode) is the White_Space
// property. PCRE2 10.42's \s with UCP also matches U+180E MONGOLIAN VOWEL SEPARATOR (through \h),
// which Unicode dropped from White_Space in 6.3, so \s and a top-level \S are spelled out here.
// (\S inside a character class is left as is; no tokenizer we know of writes it.)
std::string translate_whitespace_classes(const std::string& pattern) {
  static const std::string kWhiteSpace =
      "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
      "\\x{205F}\\x{3000}";
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      ++i;
      if (e == 's') {
        out += in_class ? kWhiteSpace : "[" + kWhiteSpace + "]";
      } else if (e == 'S' && !in_class) {
        out += "[^" + kWhiteSpace + "]";
      } else if (e == 'Q') {  // \Q...\E quotes literally: copy through \E
        const size_t end = pattern.find("\\E", i + 1);
        const size_t stop = end == std::string::npos ? pattern.size() : end + 2;
        out.append(pattern, i - 1, stop - (i - 1));
        i = stop - 1;
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
    } else if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const size_t end = pattern.find(":]", i + 2);  // a POSIX class such as [:alpha:]
      if (end != std::string::npos) {
        out.append(pattern, i + 1, end + 2 - (i + 1));
        i = end + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

Regex::Regex(const std::string& source) {
  const std::string pattern = translate_whitespace_classes(source);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    fail_input("regex ", source, " does not compile at offset ", offset, ": ",
               reinterpret_cast<const char*>(message));
  }
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  code_ = code;
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Regex::find_all(std::string_view text, std::vector<Piece>& matches) const {
  auto* code = static_cast<pcre2_code*>(code_);
  MatchScratch& s = scratch();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    // The text is valid UTF-8 (repaired on entry), so PCRE2's own check is skipped.
    const int rc = jit_ ? pcre2_jit_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                                          s.data, s.context)
                        : pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, s.data,
                                      s.context);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      const char* why = reinterpret_cast<const char*>(message);
      // The resource limits are a property of this regex on this text (a tokenizer.json whose
      // pattern backtracks catastrophically, or a pathological input): bad input, not a bug.
      if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
          rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT ||
          rc == PCRE2_ERROR_NOMEMORY)
        fail_input("the tokenizer's pre-tokenizer regex gives up on this text at byte ", start,
                   " (", why, ")");
      fail_internal("pre-tokenizer regex match failed: ", why);
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
    matches.push_back({uint32_t(ov[0]), uint32_t(ov[1])});
    if (ov[1] > ov[0]) {
      start = ov[1];
    } else {  // an empty match: resume one character later
      if (ov[1] >= text.size()) return;
      start = ov[1] + 1;
      while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
        ++start;
      }
    }
  }
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& spec, const std::string& where) {
  PreTokenizer p;
  if (!spec.is_null()) p.add(spec, where);
  return p;
}

void PreTokenizer::add(const nlohmann::json& spec, const std::string& where) {
  if (!spec.is_object() || !spec.contains("type"))
    fail_input(where, ": expected an object with a type");
  if (byte_level_) fail_input(where, ": a ByteLevel pre-tokenizer must be the last one");
  const std::string type = spec["type"].is_string() ? spec["type"].get<std::string>() : "";
  if (type == "Sequence") {
    const auto it = spec.find("pretokenizers");
    if (it == spec.end() || !it->is_array()) fail_input(where, ".pretokenizers: expected an array");
    for (size_t i = 0; i < it->size(); ++i) add((*it)[i], cat(where, ".pretokenizers[", i, "]"));
    return;
  }
  if (type == "Split") {
    Step step;
    const auto pattern = spec.find("pattern");
    if (pattern == spec.end() || !pattern->is_object())
      fail_input(where, ".pattern: expected an object");
    if (pattern->contains("Regex") && (*pattern)["Regex"].is_string()) {
      step.regex = std::make_shared<Regex>((*pattern)["Regex"].get<std::string>());
    } else if (pattern->contains("String") && (*pattern)["String"].is_string()) {
      step.literal = (*pattern)["String"].get<std::string>();
    } else {
      fail_input(where, ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
    }
    step.behavior = parse_behavior(spec.value("behavior", nlohmann::json()), where);
    step.invert = get_bool(spec, "invert", false);
    steps_.push_back(std::move(step));
    return;
  }
  if (type == "Digits") {
    // Hugging Face splits on char::is_numeric (categories Nd, Nl, No = \p{N}): each digit alone
    // with individual_digits, else runs of digits apart from runs of other characters.
    Step step;
    step.regex = std::make_shared<Regex>("\\p{N}");
    step.behavior = get_bool(spec, "individual_digits", false) ? SplitBehavior::Isolated
                                                               : SplitBehavior::Contiguous;
    steps_.push_back(std::move(step));
    return;
  }
  if (type == "ByteLevel") {
    if (get_bool(spec, "add_prefix_space", true)) {
      Step step;
      step.prefix_space = true;
      steps_.push_back(std::move(step));
    }
    if (get_bool(spec, "use_regex", true)) {
      Step step;
      step.regex = std::make_shared<Regex>(kGpt2Pattern);
      steps_.push_back(std::move(step));
    }
    byte_level_ = true;
    return;
  }
  fail_input(where, ": unsupported pre-tokenizer type \"", type, "\"");
}

namespace {

// Applies one Split step to one word, appending the resulting non-empty words
// (Hugging Face NormalizedString::split followed by PreTokenizedString's empty filter).
void split_word(Piece word, const std::vector<Piece>& found, bool invert, SplitBehavior behavior,
                std::vector<Piece>& out) {
  // Alternating (range, is_match) spans covering the word.
  struct Span {
    uint32_t begin, end;
    bool match;
  };
  std::vector<Span> spans;
  spans.reserve(found.size() * 2 + 1);
  if (word.begin == word.end) {
    spans.push_back({word.begin, word.end, false});
  } else {
    uint32_t prev = word.begin;
    for (const Piece& m : found) {
      const uint32_t b = word.begin + m.begin, e = word.begin + m.end;
      if (prev != b) spans.push_back({prev, b, false});
      spans.push_back({b, e, true});
      prev = e;
    }
    if (prev != word.end) spans.push_back({prev, word.end, false});
  }
  if (invert) {
    for (Span& s : spans) s.match = !s.match;
  }
  std::vector<Span> kept;  // match now means "remove"
  kept.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (Span s : spans) kept.push_back({s.begin, s.end, false});
      break;
    case SplitBehavior::Removed:
      kept = spans;
      break;
    case SplitBehavior::Contiguous: {
      bool previous = false;
      for (const Span& s : spans) {
        if (s.match == previous && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back({s.begin, s.end, false});
        }
        previous = s.match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous = false;
      for (const Span& s : spans) {
        if (s.match && !previous && !kept.empty()) {
          kept.back().end = s.end;
        } else {
          kept.push_back({s.begin, s.end, false});
        }
        previous = s.match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous = false;
      for (size_t i = spans.size(); i-- > 0;) {
        const Span& s = spans[i];
        if (s.match && !previous && !kept.empty()) {
          kept.back().begin = s.begin;
        } else {
          kept.push_back({s.begin, s.end, false});
        }
        previous = s.match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const Span& s : kept) {
    if (!s.match && s.end > s.begin) out.push_back({s.begin, s.end});
  }
}

void find_literal(std::string_view text, const std::string& literal, std::vector<Piece>& out) {
  if (literal.empty()) return;
  for (size_t pos = text.find(literal); pos != std::string_view::npos;
       pos = text.find(literal, pos + literal.size())) {
    out.push_back({uint32_t(pos), uint32_t(pos + literal.size())});
  }
}

}  // namespace

void PreTokenizer::run(std::string& text, std::vector<Piece>& words) const {
  words.clear();
  if (!text.empty()) words.push_back({0, uint32_t(text.size())});
  std::vector<Piece> next, found;
  for (const Step& step : steps_) {
    next.clear();
    if (step.prefix_space) {
      // Hugging Face prepends a space to every word that does not start with one.
      std::string rebuilt;
      rebuilt.reserve(text.size() + words.size());
      for (const Piece& w : words) {
        const uint32_t begin = uint32_t(rebuilt.size());
        if (text[w.begin] != ' ') rebuilt += ' ';
        rebuilt.append(text, w.begin, w.end - w.begin);
        next.push_back({begin, uint32_t(rebuilt.size())});
      }
      text.swap(rebuilt);
    } else {
      for (const Piece& w : words) {
        found.clear();
        const std::string_view view(text.data() + w.begin, w.end - w.begin);
        if (step.regex) {
          step.regex->find_all(view, found);
        } else {
          find_literal(view, step.literal, found);
        }
        split_word(w, found, step.invert, step.behavior, next);
      }
    }
    words.swap(next);
  }
}

}  // namespace r1::tok
