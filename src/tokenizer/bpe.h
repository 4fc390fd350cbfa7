// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): a vocabulary, ranked merges,
// and the merge loop Hugging Face runs on each pre-tokenized word (lowest rank first, leftmost
// first among equal ranks), with a cache for words seen before.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/flat_map.h"

namespace r1::tok {

// Hashing that lets a std::string-keyed map be searched with a string_view (no allocation).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using Vocab = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // Vocabulary entries and merges in rank order, as (left, right) token strings.
  void set_vocab(TokenTable vocab);
  // Returns false (and names the offending merge in `bad`) if a part or result is not in the vocab.
  bool add_merge(std::string_view left, std::string_view right, std::string& bad);
  void reserve_merges(size_t n) { merges_.reserve(n); }
  void set_unk(int32_t unk_id, bool fuse_unk) {
    unk_id_ = unk_id;
    fuse_unk_ = fuse_unk;
  }
  void set_ignore_merges(bool on) { ignore_merges_ = on; }
  // byte_level: words arrive as raw bytes and each byte starts as the vocab entry of its GPT-2
  // alphabet character; otherwise words are UTF-8 and start as one symbol per character.
  void set_byte_level(bool on);

  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  int32_t find(std::string_view token) const;  // -1 if absent
  const TokenTable& vocab() const { return vocab_; }
  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
  }
  static constexpr size_t kShortWord = 64;
  void merge_symbols(std::vector<int32_t>& symbols) const;
  void merge_short(std::vector<int32_t>& symbols) const;
  void encode_uncached(std::string_view word, std::vector<int32_t>& out) const;

  TokenTable vocab_;
  MergeTable merges_;
  std::array<int32_t, 256> byte_ids_{};  // byte-level: initial symbol of each byte (-1 if absent)
  bool byte_level_ = false;
  bool ignore_merges_ = false;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  int32_t next_rank_ = 0;

  // Word cache: direct-mapped (a word's hash picks its slot; a newer word evicts an older one),
  // locked by stripes so threads rarely contend. Replaced a std::unordered_map<string, vector>
  // that cost a quarter of encode time in allocations and pointer chasing.
  struct CacheSlot {
    std::string word;
    std::vector<int32_t> ids;
    bool used = false;
  };
  static constexpr size_t kCacheSlots = size_t(1) << 16;
  static constexpr size_t kCacheStripes = 64;
  mutable std::vector<CacheSlot> cache_{kCacheSlots};
  mutable std::array<std::mutex, kCacheStripes> cache_locks_;
};

}  // namespace r1::tok
