// A model's weights as its tensor table (io/tensor_table.h) lists them: loaded from the
// checkpoint with each entry's dtype and shape checks, found by role, layer and expert, and
// handed out as parameter slots and a count of the bytes one decode step reads.
#pragma once

#include <cstdint>
#include <vector>

#include "io/safetensors.h"
#include "io/tensor_table.h"
#include "models/model.h"
#include "ops/ops.h"

namespace r1::models {

class Weights {
 public:
  Weights() = default;
  // Every tensor of `table` from `store` (aliases shared, absent optional ones left undefined);
  // Input errors name a missing tensor or one of the wrong dtype or shape.
  Weights(const io::ModelConfig& cfg, const io::WeightStore& store,
          std::vector<io::TensorSpec> table);

  // The weight of `role` in `layer` (-1: outside the layers), routed expert `expert` (-1: none);
  // nullptr when the table has none or the checkpoint left an optional one out.
  const ops::Weight* find(io::Role role, int64_t layer = -1, int64_t expert = -1) const;
  // As find, for weights the architecture always has (an internal error otherwise).
  const ops::Weight& get(io::Role role, int64_t layer = -1, int64_t expert = -1) const;
  const Tensor& tensor(io::Role role, int64_t layer = -1, int64_t expert = -1) const {
    return get(role, layer, expert).w;
  }
  // find's tensor, or nullptr (optional biases).
  const Tensor* maybe(io::Role role, int64_t layer = -1) const {
    const ops::Weight* w = find(role, layer);
    return w ? &w->w : nullptr;
  }

  // Every entry: aliases unnamed, the table's frozen ones frozen.
  std::vector<ParamSlot> slots();
  // Bytes one decode step of the main model reads (io::TensorSpec::per_token; one embedding row).
  uint64_t bytes_per_token() const;

 private:
  int64_t key(io::Role role, int64_t layer, int64_t expert) const;

  std::vector<io::TensorSpec> specs_;
  std::vector<ops::Weight> w_;  // parallel to specs_
  std::vector<bool> own_;       // false: shares the tensor of the entry it aliases
  std::vector<int32_t> index_;  // key -> position in specs_, -1: none
  int64_t n_layers_ = 0, n_experts_ = 0;
};

}  // namespace r1::models
