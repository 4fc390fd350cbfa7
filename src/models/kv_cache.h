// Key/value cache for standard multi-head attention: per sequence slot and layer, keys and
// values laid out [position][n_kv_heads][head_dim] in f32, grown on demand.
#pragma once

#include <cstdint>
#include <vector>

namespace r1::models {

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim, int64_t max_positions);

  // A new empty sequence slot; returns its id (slots of freed sequences are reused).
  int add_sequence();
  void free_sequence(int seq);
  // Makes room for positions [0, n) of seq. n beyond max_positions is an Input error.
  void reserve(int seq, int64_t n);
  // Number of positions of seq whose keys/values are stored.
  int64_t length(int seq) const { return seqs_[seq].length; }
  void set_length(int seq, int64_t n) { seqs_[seq].length = n; }

  float* k(int layer, int seq) { return seqs_[seq].k[layer].data(); }
  float* v(int layer, int seq) { return seqs_[seq].v[layer].data(); }
  int64_t pos_stride() const { return n_kv_heads_ * head_dim_; }
  // Bytes per cached token (all layers, keys and values).
  int64_t bytes_per_token() const { return 2 * n_layers_ * pos_stride() * 4; }

 private:
  struct Seq {
    bool used = false;
    int64_t length = 0, capacity = 0;
    std::vector<std::vector<float>> k, v;  // [layer] -> [capacity * pos_stride]
  };
  int64_t n_layers_, n_kv_heads_, head_dim_, max_positions_;
  std::vector<Seq> seqs_;
};

}  // namespace r1::models
