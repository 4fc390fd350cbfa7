#include "models/kv_cache.h"

#include <algorithm>

#include "core/error.h"
#include "core/memory.h"

namespace r1::models {

KvCache::KvCache(int64_t n_layers, int64_t k_width, int64_t v_width, int64_t max_positions)
    : n_layers_(n_layers), k_width_(k_width), v_width_(v_width), max_positions_(max_positions) {}

int KvCache::add_sequence() {
  size_t i = 0;
  while (i < seqs_.size() && seqs_[i].used) ++i;
  if (i == seqs_.size()) seqs_.emplace_back();
  Seq& s = seqs_[i];
  s = Seq();
  s.used = true;
  s.k.resize(n_layers_);
  s.v.resize(n_layers_);
  return static_cast<int>(i);
}

void KvCache::free_sequence(int seq) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()));
  reserved_bytes_ -= static_cast<uint64_t>(seqs_[seq].capacity * bytes_per_token());
  total_positions_ -= seqs_[seq].capacity;
  seqs_[seq] = Seq();
}

int KvCache::fork_sequence(int seq) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].used);
  const int64_t n = seqs_[seq].length;
  const int copy = add_sequence();  // may reallocate seqs_: index, do not hold references
  reserve(copy, std::max<int64_t>(n, 1));
  for (int64_t l = 0; l < n_layers_; ++l) {
    std::copy_n(seqs_[seq].k[l].begin(), n * k_width_, seqs_[copy].k[l].begin());
    std::copy_n(seqs_[seq].v[l].begin(), n * v_width_, seqs_[copy].v[l].begin());
  }
  seqs_[copy].length = n;
  return copy;
}

void KvCache::reserve(int seq, int64_t n) {
  R1_ASSERT(seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].used);
  if (n > max_positions_)
    fail_input("sequence of ", n, " tokens exceeds the model's context of ", max_positions_);
  Seq& s = seqs_[seq];
  if (n <= s.capacity) return;
  int64_t cap =
      std::min(max_positions_, std::max<int64_t>(n, std::max<int64_t>(64, s.capacity * 2)));
  const uint64_t per_position = static_cast<uint64_t>(bytes_per_token());
  const uint64_t grown = mul_sat(static_cast<uint64_t>(cap - s.capacity), per_position);
  check_memory(add_sat(reserved_bytes_, grown),
               cat("the KV cache (", total_positions_ + cap - s.capacity, " positions of ",
                   format_bytes(per_position), ")"));
  reserved_bytes_ += grown;
  total_positions_ += cap - s.capacity;
  for (int64_t l = 0; l < n_layers_; ++l) {
    s.k[l].resize(cap * k_width_);
    s.v[l].resize(cap * v_width_);
  }
  s.capacity = cap;
}

}  // namespace r1::models
