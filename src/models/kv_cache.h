// Key/value cache: per sequence slot and layer, a key row of k_width floats and a value row of
// v_width floats per position, in f32, grown on demand. Standard attention stores
// [n_kv_heads * head_dim] in each; DeepSeek's absorbed MLA stores the normalized latent and the
// rotary key ([kv_lora_rank + qk_rope_head_dim]) as the key row and no value row.
#pragma once

#include <cstdint>
#include <vector>

namespace r1::models {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t k_width, int64_t v_width, int64_t max_positions);

  // A new empty sequence slot; returns its id (slots of freed sequences are reused).
  int add_sequence();
  void free_sequence(int seq);
  // A new sequence slot holding a copy of seq's positions (the fork of a shared prompt: the
  // samples of one prompt each continue from its prefill).
  int fork_sequence(int seq);
  // Makes room for positions [0, n) of seq. n beyond max_positions is an Input error.
  void reserve(int seq, int64_t n);
  // Number of positions of seq whose keys/values are stored.
  int64_t length(int seq) const { return seqs_[seq].length; }
  void set_length(int seq, int64_t n) { seqs_[seq].length = n; }

  float* k(int layer, int seq) { return seqs_[seq].k[layer].data(); }
  float* v(int layer, int seq) { return seqs_[seq].v[layer].data(); }
  int64_t k_stride() const { return k_width_; }  // floats between positions
  int64_t v_stride() const { return v_width_; }
  // Positions a sequence may have: the context length.
  int64_t max_positions() const { return max_positions_; }
  // Bytes per cached token (all layers, keys and values).
  int64_t bytes_per_token() const { return n_layers_ * (k_width_ + v_width_) * 4; }

 private:
  struct Seq {
    bool used = false;
    int64_t length = 0, capacity = 0;
    std::vector<std::vector<float>> k, v;  // [layer] -> [capacity * width]
  };
  int64_t n_layers_, k_width_, v_width_, max_positions_;
  uint64_t reserved_bytes_ = 0;  // all sequences' capacity, checked against the machine's memory
  int64_t total_positions_ = 0;
  std::vector<Seq> seqs_;
};

}  // namespace r1::models
