// Paged key/value cache. Positions are stored in fixed-size blocks (block_size positions, every
// layer's key and value rows), and each sequence has a block table, so that:
// - memory is taken a block at a time as sequences grow and returned when they end;
// - sequences share blocks: fork_sequence() (the samples of one prompt) shares every block, and a
//   shared block is copied only when a sequence writes into it (copy-on-write);
// - prefix caching: publish() makes a sequence's full blocks findable by the tokens they hold
//   (a hash chain over the tokens from position 0), and attach_prefix() starts a new sequence on
//   the blocks of the longest published prefix of its prompt. Published blocks nobody uses stay
//   cached and are evicted least recently used first when memory is needed.
// Standard attention stores [n_kv_heads * head_dim] in each key and value row (cut into one
// segment per kv head, so that a head's rows are contiguous within a block); DeepSeek's
// absorbed MLA stores the normalized latent and the rotary key ([kv_lora_rank +
// qk_rope_head_dim]) as the key row and no value row. Rows are f32 (exact), or bf16 (half the
// memory; set_dtype before the first block, as r1 serve does by default).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "ops/ops.h"

namespace r1::models {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t k_width, int64_t v_width, int64_t max_positions,
          int64_t block_size = 16);
  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;

  // The most blocks the cache may hold (in use or cached); 0: as many as the machine's memory.
  void set_block_budget(int64_t blocks);
  // Published blocks kept when no sequence uses them, at most (the least recently used are
  // dropped beyond it); -1: no limit but the budget and the machine's memory.
  void set_cached_limit(int64_t blocks);
  // F32 or BF16 rows; only before any block exists.
  void set_dtype(DType dtype);
  // Rows cut into segments of this many elements (a kv head's), each segment's rows contiguous
  // within a block (ops::RowBlocks); only before any block exists. Attention then reads one
  // head's keys and values as one run per block.
  void set_segment(int64_t segment);
  DType dtype() const { return bf16_ ? DType::BF16 : DType::F32; }

  // A new empty sequence slot; returns its id (slots of freed sequences are reused).
  int add_sequence();
  void free_sequence(int seq);
  // A new sequence slot sharing all of seq's positions (copy-on-write).
  int fork_sequence(int seq);
  // Makes room for positions [0, n) of seq, giving it a private copy of any shared block that
  // positions from length(seq) on will be written into. n beyond max_positions is an Input
  // error; so is a full cache (see blocks_needed / blocks_available).
  void reserve(int seq, int64_t n);
  // Number of positions of seq whose keys/values are stored.
  int64_t length(int seq) const { return seqs_[seq].length; }
  void set_length(int seq, int64_t n) { seqs_[seq].length = n; }

  // Writes src into elements [col0, col0 + n) of a key or value row (after reserve), rounded to
  // the cache's dtype; reads go through k_rows / v_rows.
  void write_k(int layer, int seq, int64_t pos, const float* src, int64_t col0, int64_t n);
  void write_v(int layer, int seq, int64_t pos, const float* src, int64_t col0, int64_t n);
  ops::RowBlocks k_rows(int layer, int seq) const;
  ops::RowBlocks v_rows(int layer, int seq) const;

  // Prefix caching. attach_prefix: seq must be empty; it takes the blocks of the longest
  // published prefix of tokens[0, n) (whole blocks only) and returns the positions it now holds.
  int64_t attach_prefix(int seq, const int32_t* tokens, int64_t n);
  // tokens[0, n) are seq's first n tokens: its full blocks among them become findable.
  void publish(int seq, const int32_t* tokens, int64_t n);

  // Accounting, in blocks.
  int64_t block_size() const { return block_size_; }
  int64_t blocks_in_use() const { return in_use_; }  // referenced by a sequence
  int64_t blocks_cached() const { return static_cast<int64_t>(lru_.size()); }  // reusable
  int64_t block_budget() const { return budget_; }                             // 0: unbounded
  // Blocks that can still be taken: free, never allocated or cached (evictable).
  int64_t blocks_available() const;
  // New blocks reserve(seq, n) would take.
  int64_t blocks_needed(int seq, int64_t n) const;

  // Positions a sequence may have: the context length.
  int64_t max_positions() const { return max_positions_; }
  // Bytes per cached token (all layers, keys and values).
  int64_t bytes_per_token() const { return n_layers_ * (k_width_ + v_width_) * (bf16_ ? 2 : 4); }
  int64_t bytes_per_block() const { return bytes_per_token() * block_size_; }

 private:
  struct Block {
    std::unique_ptr<float[]> mem;
    int refs = 0;
    uint64_t hash = 0;  // published: the hash chain up to and including this block
    uint64_t parent = 0;
    std::vector<int32_t> tokens;  // published: its tokens (a hash match is checked against them)
    std::list<int>::iterator lru;
  };
  struct Seq {
    bool used = false;
    int64_t length = 0;
    std::vector<int> blocks;
    std::vector<float*> ptrs;  // blocks[i]'s memory, for RowBlocks
    int64_t published = 0;     // leading blocks already published
    uint64_t chain = 0;        // hash chain after them
  };
  int take_block();
  void release_block(int b);
  int drop_oldest_cached();  // unpublishes the least recently used cached block; returns it
  void write(int layer, int seq, int64_t pos, bool value, const float* src, int64_t col0,
             int64_t n);
  int64_t block_floats() const;  // a block's memory, in floats

  int64_t n_layers_, k_width_, v_width_, max_positions_, block_size_;
  int64_t budget_ = 0, in_use_ = 0, cached_limit_ = -1, segment_ = 0;
  bool bf16_ = false;
  std::vector<Block> blocks_;
  std::vector<int> free_;  // allocated, unreferenced, not published
  std::list<int> lru_;     // published, unreferenced: least recently used first
  std::unordered_map<uint64_t, int> published_;
  std::vector<Seq> seqs_;
};

}  // namespace r1::models
