#include "models/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/memory.h"

namespace r1::models {

namespace {
// The hash of a block given its parent's hash and its tokens (FNV-1a steps, then a finalizer).
// Matches are checked against the stored tokens and parent, so a collision costs nothing.
uint64_t chain_hash(uint64_t parent, const int32_t* t, int64_t n) {
  uint64_t h = parent ^ 0xcbf29ce484222325ull;
  for (int64_t i = 0; i < n; ++i) h = (h ^ static_cast<uint32_t>(t[i])) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h ? h : 1;  // 0 means "not published"
}
}  // namespace

KvCache::KvCache(int64_t n_layers, int64_t k_width, int64_t v_width, int64_t max_positions,
                 int64_t block_size)
    : n_layers_(n_layers),
      k_width_(k_width),
      v_width_(v_width),
      max_positions_(max_positions),
      block_size_(block_size) {
  R1_ASSERT(block_size_ >= 1);
}

void KvCache::set_segment(int64_t segment) {
  if (!blocks_.empty()) fail_internal("KvCache::set_segment after blocks were allocated");
  R1_ASSERT(segment > 0 && k_width_ % segment == 0 && v_width_ % segment == 0);
  segment_ = segment;
}

void KvCache::set_dtype(DType dtype) {
  if (dtype != DType::F32 && dtype != DType::BF16)
    fail_usage("the KV cache holds f32 or bf16 rows, not ", dtype_name(dtype));
  if (!blocks_.empty()) fail_internal("KvCache::set_dtype after blocks were allocated");
  bf16_ = dtype == DType::BF16;
}

int64_t KvCache::block_floats() const {
  const int64_t elems = n_layers_ * block_size_ * (k_width_ + v_width_);
  return bf16_ ? (elems + 1) / 2 : elems;
}

void KvCache::set_block_budget(int64_t blocks) {
  budget_ = std::max<int64_t>(0, blocks);
}

int64_t KvCache::blocks_available() const {
  if (budget_ == 0) return INT64_MAX / 2;
  return budget_ - in_use_;  // free and cached blocks, and those never allocated
}

int KvCache::take_block() {
  int b = -1;
  const int64_t allocated = static_cast<int64_t>(blocks_.size());
  const uint64_t grown = mul_sat(static_cast<uint64_t>(allocated + 1), bytes_per_block());
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (budget_ > 0 ? allocated < budget_ : (lru_.empty() || grown <= memory_limit_bytes())) {
    check_memory(grown, cat("the KV cache (", allocated + 1, " blocks of ",
                            format_bytes(bytes_per_block()), ")"));
    blocks_.emplace_back();
    blocks_.back().mem.reset(new float[block_floats()]);
    b = static_cast<int>(allocated);
  } else if (!lru_.empty()) {
    b = drop_oldest_cached();
  } else {
    fail_input("the KV cache is full (", allocated, " blocks of ", block_size_, " positions)");
  }
  blocks_[b].refs = 1;
  ++in_use_;
  return b;
}

void KvCache::release_block(int b) {
  Block& k = blocks_[b];
  R1_ASSERT(k.refs > 0);
  if (--k.refs > 0) return;
  --in_use_;
  if (k.hash) {
    lru_.push_back(b);
    k.lru = std::prev(lru_.end());
    if (cached_limit_ >= 0 && static_cast<int64_t>(lru_.size()) > cached_limit_)
      free_.push_back(drop_oldest_cached());
  } else {
    free_.push_back(b);
  }
}

int KvCache::drop_oldest_cached() {
  const int b = lru_.front();
  lru_.pop_front();
  published_.erase(blocks_[b].hash);
  blocks_[b].hash = 0;
  blocks_[b].tokens.clear();
  return b;
}

void KvCache::set_cached_limit(int64_t blocks) {
  cached_limit_ = blocks;
  while (cached_limit_ >= 0 && static_cast<int64_t>(lru_.size()) > cached_limit_)
    free_.push_back(drop_oldest_cached());
}

int KvCache::add_sequence() {
  size_t i = 0;
  while (i < seqs_.size() && seqs_[i].used) ++i;
  if (i == seqs_.size()) seqs_.emplace_back();
  seqs_[i] = Seq();
  seqs_[i].used = true;
  return static_cast<int>(i);
}

void KvCache::free_sequence(int seq) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].used);
  for (int b : seqs_[seq].blocks) release_block(b);
  seqs_[seq] = Seq();
}

int KvCache::fork_sequence(int seq) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].used);
  const int copy = add_sequence();  // may reallocate seqs_: index, do not hold references
  seqs_[copy] = seqs_[seq];
  for (int b : seqs_[copy].blocks) ++blocks_[b].refs;
  return copy;
}

int64_t KvCache::blocks_needed(int seq, int64_t n) const {
  const Seq& s = seqs_[seq];
  const int64_t have = static_cast<int64_t>(s.blocks.size());
  const int64_t want = (n + block_size_ - 1) / block_size_;
  int64_t need = std::max<int64_t>(0, want - have);
  // Shared blocks that positions from length on fall in are copied.
  for (int64_t i = s.length / block_size_; i < std::min(have, want); ++i)
    if (blocks_[s.blocks[i]].refs > 1) ++need;
  return need;
}

void KvCache::reserve(int seq, int64_t n) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].used);
  if (n > max_positions_)
    fail_input("sequence of ", n, " tokens exceeds the model's context of ", max_positions_);
  const int64_t want = (n + block_size_ - 1) / block_size_;
  const int64_t floats = block_floats();
  for (int64_t i = seqs_[seq].length / block_size_;
       i < std::min<int64_t>(want, static_cast<int64_t>(seqs_[seq].blocks.size())); ++i) {
    const int old = seqs_[seq].blocks[i];
    if (blocks_[old].refs == 1) continue;
    const int b = take_block();  // may grow blocks_: index again below
    std::memcpy(blocks_[b].mem.get(), blocks_[old].mem.get(), floats * sizeof(float));
    release_block(old);
    seqs_[seq].blocks[i] = b;
    seqs_[seq].ptrs[i] = blocks_[b].mem.get();
  }
  while (static_cast<int64_t>(seqs_[seq].blocks.size()) < want) {
    const int b = take_block();
    seqs_[seq].blocks.push_back(b);
    seqs_[seq].ptrs.push_back(blocks_[b].mem.get());
  }
}

void KvCache::write(int layer, int seq, int64_t pos, bool value, const float* src, int64_t col0,
                    int64_t n) {
  const ops::RowBlocks rows = value ? v_rows(layer, seq) : k_rows(layer, seq);
  float* base = seqs_[seq].ptrs[pos / block_size_];
  const int64_t s = rows.seg();
  for (int64_t c = col0; c < col0 + n;) {  // a piece per segment
    const int64_t len = std::min(col0 + n, (c / s + 1) * s) - c, at = rows.at(pos, c);
    if (!bf16_) {
      std::memcpy(base + at, src + (c - col0), len * sizeof(float));
    } else {
      uint16_t* d = reinterpret_cast<uint16_t*>(base) + at;
      for (int64_t i = 0; i < len; ++i) d[i] = f32_to_bf16(src[c - col0 + i]);
    }
    c += len;
  }
}

void KvCache::write_k(int layer, int seq, int64_t pos, const float* src, int64_t col0, int64_t n) {
  write(layer, seq, pos, false, src, col0, n);
}
void KvCache::write_v(int layer, int seq, int64_t pos, const float* src, int64_t col0, int64_t n) {
  write(layer, seq, pos, true, src, col0, n);
}

ops::RowBlocks KvCache::k_rows(int layer, int seq) const {
  return {seqs_[seq].ptrs.data(),
          layer * block_size_ * k_width_,
          k_width_,
          block_size_,
          bf16_,
          segment_};
}
ops::RowBlocks KvCache::v_rows(int layer, int seq) const {
  return {seqs_[seq].ptrs.data(),
          n_layers_ * block_size_ * k_width_ + layer * block_size_ * v_width_,
          v_width_,
          block_size_,
          bf16_,
          segment_};
}

int64_t KvCache::attach_prefix(int seq, const int32_t* tokens, int64_t n) {
  Seq& s = seqs_[seq];
  R1_ASSERT(s.used && s.blocks.empty());
  uint64_t chain = 0;
  for (int64_t i = 0; (i + 1) * block_size_ <= n; ++i) {
    const int32_t* t = tokens + i * block_size_;
    const uint64_t h = chain_hash(chain, t, block_size_);
    auto it = published_.find(h);
    if (it == published_.end()) break;
    Block& k = blocks_[it->second];
    if (k.parent != chain || !std::equal(k.tokens.begin(), k.tokens.end(), t)) break;
    if (k.refs++ == 0) {
      lru_.erase(k.lru);
      ++in_use_;
    }
    s.blocks.push_back(it->second);
    s.ptrs.push_back(k.mem.get());
    chain = h;
  }
  s.published = static_cast<int64_t>(s.blocks.size());
  s.chain = chain;
  s.length = s.published * block_size_;
  return s.length;
}

void KvCache::publish(int seq, const int32_t* tokens, int64_t n) {
  Seq& s = seqs_[seq];
  const int64_t full = std::min<int64_t>(n, s.length) / block_size_;
  for (int64_t i = s.published; i < full; ++i) {
    const int32_t* t = tokens + i * block_size_;
    const uint64_t h = chain_hash(s.chain, t, block_size_);
    Block& k = blocks_[s.blocks[i]];
    if (k.hash == 0 && !published_.count(h)) {
      k.hash = h;
      k.parent = s.chain;
      k.tokens.assign(t, t + block_size_);
      published_[h] = s.blocks[i];
    }
    s.chain = h;
    s.published = i + 1;
  }
}

}  // namespace r1::models
