#include "models/kv_cache.h"

#include <algorithm>

#include "core/error.h"

namespace r1::models {

KvCache::KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t max_positions)
    : n_layers_(n_layers),
      n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      max_positions_(max_positions) {}

int KvCache::add_sequence() {
  for (size_t i = 0; i < seqs_.size(); ++i)
    if (!seqs_[i].used) {
      seqs_[i] = Seq();
      seqs_[i].used = true;
      seqs_[i].k.resize(n_layers_);
      seqs_[i].v.resize(n_layers_);
      return static_cast<int>(i);
    }
  seqs_.emplace_back();
  Seq& s = seqs_.back();
  s.used = true;
  s.k.resize(n_layers_);
  s.v.resize(n_layers_);
  return static_cast<int>(seqs_.size() - 1);
}

void KvCache::free_sequence(int seq) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()));
  seqs_[seq] = Seq();
}

void KvCache::reserve(int seq, int64_t n) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].used);
  if (n > max_positions_)
    fail_input("sequence of ", n, " tokens exceeds the model's context of ", max_positions_);
  Seq& s = seqs_[seq];
  if (n <= s.capacity) return;
  int64_t cap =
      std::min(max_positions_, std::max<int64_t>(n, std::max<int64_t>(64, s.capacity * 2)));
  for (int64_t l = 0; l < n_layers_; ++l) {
    s.k[l].resize(cap * pos_stride());
    s.v[l].resize(cap * pos_stride());
  }
  s.capacity = cap;
}

}  // namespace r1::models
