// Hugging Face byte-level BPE tokenizers, read from a model folder's tokenizer.json (and
// tokenizer_config.json when present), with the same ids as Hugging Face `tokenizers` and
// `transformers` produce. Supported components (anything else is an Input error naming it):
//   normalizer:     null, NFC, Sequence
//   pre_tokenizer:  null, Split (Regex or String pattern, every behavior, invert), ByteLevel
//                   (last; add_prefix_space, use_regex), Digits, Sequence
//   model:          BPE (merges as "a b" strings or ["a","b"] pairs, ignore_merges, unk_token,
//                   fuse_unk; continuing_subword_prefix / end_of_word_suffix only empty; no
//                   byte_fallback or dropout)
//   post_processor: null, TemplateProcessing, ByteLevel, Sequence, BertProcessing,
//                   RobertaProcessing
//   decoder:        null, ByteLevel, Sequence of those
// Added tokens are matched in the text before pre-tokenization, leftmost-longest, honouring
// lstrip, rstrip, single_word and normalized, as Hugging Face's AddedVocabulary does.
//
// Invalid UTF-8 input: each maximal invalid subsequence is replaced by U+FFFD before tokenizing
// (what Python's bytes.decode(errors="replace") and Rust's String::from_utf8_lossy do), so
// encode never fails on bytes. Decoded text is made valid UTF-8 the same way.
//
// Regexes: PCRE2 (Unicode 14 in Debian 12's 10.42) with \s rewritten to Unicode White_Space as
// Oniguruma, which Hugging Face uses, has it. Characters assigned after Unicode 14 may split
// differently from Hugging Face builds with newer Unicode tables.
//
// A Tokenizer is immutable after load (apart from an internal, locked word cache) and safe to
// use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1::tok {

struct TokenizerImpl;

class Tokenizer {
 public:
  // Reads dir/tokenizer.json and, if present, dir/tokenizer_config.json.
  static Tokenizer load(const std::string& dir);
  // Builds from the two files' texts (config_json may be empty); `origin` names them in errors.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view config_json,
                             const std::string& origin);

  // add_special_tokens applies the post-processor (e.g. a BOS prefix) as transformers does,
  // including tokenizer_config.json's add_bos_token / add_eos_token for Llama-class tokenizers.
  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  // Unknown ids are skipped, as Hugging Face does. Applies clean_up_tokenization_spaces when
  // tokenizer_config.json asks for it.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  std::string token_text(int32_t id) const;        // decoded bytes of one token; "" if unknown
  int32_t token_id(std::string_view token) const;  // vocab or added token content; -1 if absent
  // An added token with special=true, or a special token named by tokenizer_config.json
  // (bos_token, eos_token, pad_token, ..., additional_special_tokens), as transformers has it.
  bool is_special(int32_t id) const;
  int32_t bos_id() const;  // from tokenizer_config.json; -1 if none
  int32_t eos_id() const;
  int64_t vocab_size() const;            // highest id + 1
  const nlohmann::json& config() const;  // tokenizer_config.json ({} if absent)

  // The raw bytes a token contributes to decoded text (before UTF-8 repair and clean-up);
  // empty for unknown ids and, when skip_special is set, for special tokens.
  std::string token_bytes(int32_t id, bool skip_special = false) const;
  bool clean_up_spaces() const;    // decode applies transformers' clean_up_tokenization
  bool joins_with_spaces() const;  // no decoder: tokens are joined with " " as in HF

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  static Tokenizer build(std::string_view tokenizer_json, std::string_view config_json,
                         const std::string& origin);
  std::unique_ptr<TokenizerImpl> impl_;
};

// Streaming detokenizer: push ids one at a time and get back only complete UTF-8 text, so a
// character split across tokens (emoji, CJK) is emitted once whole. The concatenation of every
// push() and the final flush() equals tokenizer.decode(all ids) for the same flag (with
// clean_up_tokenization_spaces, a possible " ." / " n't" tail is held back until the next token
// decides it).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string push(int32_t id);
  // Emits whatever is held back (an incomplete UTF-8 tail becomes U+FFFD) and resets.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  bool first_ = true;
  std::string pending_;  // bytes not yet emitted: an incomplete UTF-8 tail or clean-up context
};

// transformers' clean_up_tokenization (" ." -> "." and the like), applied by decode when
// tokenizer_config.json sets clean_up_tokenization_spaces.
std::string clean_up_tokenization(std::string text);

}  // namespace r1::tok
