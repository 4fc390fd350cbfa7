// Pre-tokenizers of tokenizer.json: Split (a regex compiled by PCRE2 with UTF and UCP, or a
// literal string; every SplitDelimiterBehavior; invert), Digits, ByteLevel and Sequence. They cut
// the normalized text into words that the BPE model encodes one by one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::tok {

// A word: bytes [begin, end) of the buffer being pre-tokenized.
struct Piece {
  uint32_t begin;
  uint32_t end;
};

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// A compiled regex (PCRE2, JIT when available); find_all lists non-overlapping matches.
// Oniguruma-compatible \s (see translate_whitespace_classes); exposed for tests.
std::string translate_whitespace_classes(const std::string& pattern);

class Regex {
 public:
  explicit Regex(const std::string& pattern);  // throws an Input error if it does not compile
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // Appends the [begin, end) byte ranges of successive matches in text, left to right.
  void find_all(std::string_view text, std::vector<Piece>& matches) const;

 private:
  void* code_ = nullptr;  // pcre2_code*
  bool jit_ = false;
};

class PreTokenizer {
 public:
  // Builds from tokenizer.json's "pre_tokenizer" value (null allowed). `where` names the field
  // in error messages.
  static PreTokenizer from_json(const nlohmann::json& spec, const std::string& where);

  // Cuts text into words. text may be rewritten (ByteLevel's add_prefix_space inserts spaces).
  void run(std::string& text, std::vector<Piece>& words) const;
  // True when the last step is ByteLevel: words are then raw bytes for a byte-level BPE.
  bool byte_level() const { return byte_level_; }

 private:
  struct Step {
    std::shared_ptr<Regex> regex;  // null for a literal pattern or a prefix-space step
    std::string literal;
    SplitBehavior behavior = SplitBehavior::Isolated;
    bool invert = false;
    bool prefix_space = false;  // ByteLevel add_prefix_space
  };
  void add(const nlohmann::json& spec, const std::string& where);
  std::vector<Step> steps_;
  bool byte_level_ = false;
};

}  // namespace r1::tok
