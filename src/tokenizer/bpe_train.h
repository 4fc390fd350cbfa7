// Training a byte-level BPE tokenizer in the Qwen2 / R1-Distill-Qwen layout, written as a Hugging
// Face tokenizer folder that r1's Tokenizer and HF `tokenizers` both load:
//   ids 0..255      the GPT-2 byte-to-unicode alphabet in GPT-2's order (printable bytes first,
//                   which is also code point order), every byte present whatever the corpus
//   ids 256..       merged tokens in the order they were learned
//   then            the added (special) tokens, in the order given
//   pre_tokenizer   Sequence[Split(the Qwen2 regex of r1-distill-qwen's tokenizer.json, Isolated),
//                   ByteLevel(add_prefix_space false, trim_offsets false, use_regex false)]
//   normalizer null, decoder ByteLevel, post_processor TemplateProcessing prepending BOS (when
//   there is one), merges written as ["left", "right"] pairs.
//
// The corpus is cut exactly as encoding will cut it: invalid UTF-8 is repaired to U+FFFD, added
// tokens are split out first (so training never merges into their text), and the rest goes
// through r1's PreTokenizer built from the same JSON that is written. Unique pieces are counted;
// then merges are learned greedily as Hugging Face's BpeTrainer does:
//   - a pair's count is the sum over unique words of (word count) x (adjacent occurrences in the
//     word), overlapping occurrences included ("aaa" counts (a, a) twice);
//   - the next merge is the pair with the highest count; ties go to the smallest pair, compared
//     as (left id, right id). Since HF also numbers the byte alphabet in code point order and
//     merged tokens in learning order, this is HF's rule (HF's ids are only shifted by the
//     special tokens it puts first);
//   - a merge replaces non-overlapping occurrences left to right in every word holding the pair,
//     and the pair counts of the neighbours are updated incrementally (no recount per merge);
//   - learning stops when the vocabulary is full or the best count is below min_frequency;
//   - a merge whose result string is already a token (e.g. "a"+"bc" after "ab"+"c") reuses its id
//     and does not grow the vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"

namespace r1::tok {

// The Qwen2 pre-tokenizer regex, character for character as in r1-distill-qwen's tokenizer.json.
extern const char* const kQwen2PreTokenizerRegex;

struct BpeTrainOptions {
  int64_t vocab_size = 0;  // every id: 256 bytes + merged tokens + added tokens
  int64_t min_frequency = 2;
  std::vector<AddedToken> added_tokens;  // appended in order after the merged vocab; ids ignored
  // tokenizer_config.json: names of added tokens ("" for none); BOS also drives the
  // post-processor.
  std::string bos_token, eos_token, pad_token;
  int64_t model_max_length = 16384;
  nlohmann::json chat_template;  // null: none
};

// The R1 added tokens with R1-Distill-Qwen's strings and flags (<｜▁pad▁｜>, absent there, with
// DeepSeek-R1's), in R1-Distill-Qwen's order; and options naming BOS, EOS and PAD among them.
std::vector<AddedToken> r1_added_tokens();
void use_r1_special_tokens(BpeTrainOptions& options);

// Counts pre-tokenized pieces of documents added one at a time.
class BpePieceCounter {
 public:
  explicit BpePieceCounter(const std::vector<AddedToken>& added_tokens);
  void add_document(std::string_view text);

  int64_t corpus_bytes() const { return corpus_bytes_; }
  int64_t special_occurrences() const { return special_occurrences_; }
  // Unique pieces (raw bytes) and how often each occurs.
  const std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>& pieces() const {
    return pieces_;
  }

 private:
  PreTokenizer pre_tokenizer_;
  AddedTokenMatcher matcher_;
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> pieces_;
  int64_t corpus_bytes_ = 0;
  int64_t special_occurrences_ = 0;
  std::vector<Segment> segments_;
  std::vector<Piece> words_;
  std::string buffer_;
};

struct BpeTrainResult {
  std::vector<std::string> tokens;                  // id -> token (byte-level alphabet text)
  std::vector<std::pair<int32_t, int32_t>> merges;  // (left id, right id), in learning order
  std::vector<AddedToken> added_tokens;             // with their ids
  int64_t corpus_bytes = 0;
  int64_t unique_pieces = 0;
  int64_t corpus_tokens = 0;  // tokens of the corpus as segmented at the end of training
  int64_t vocab_size() const { return int64_t(tokens.size() + added_tokens.size()); }
};

// Learns merges from counted pieces. Throws a Usage error if vocab_size cannot hold the 256 bytes
// and the added tokens.
BpeTrainResult train_bpe(const BpePieceCounter& counter, const BpeTrainOptions& options);
// Convenience: each text is a document.
BpeTrainResult train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& options);

// The two files' texts.
std::string bpe_tokenizer_json(const BpeTrainResult& result, const BpeTrainOptions& options);
std::string bpe_tokenizer_config_json(const BpeTrainResult& result, const BpeTrainOptions& options);
// Writes dir/tokenizer.json and dir/tokenizer_config.json atomically (dir is created).
void write_bpe_tokenizer(const std::string& dir, const BpeTrainResult& result,
                         const BpeTrainOptions& options);

}  // namespace r1::tok
