// Qwen2ForCausalLM and LlamaForCausalLM: pre-norm decoder layers with grouped-query attention
// (q/k/v biases for Qwen2), half-split RoPE, RMSNorm and a SwiGLU MLP (docs/FACTS.md section 1).
#pragma once

#include <memory>
#include <string>

#include "io/safetensors.h"
#include "models/model.h"
#include "models/weights.h"

namespace r1::models {

class DenseModel : public Model {
 public:
  DenseModel(const io::ModelConfig& cfg, io::WeightStore store, const LoadOptions& opt);

  const io::ModelConfig& config() const override { return cfg_; }
  KvCache new_cache() const override;
  Tensor forward(const Batch& batch, KvCache& cache) override;
  uint64_t weight_bytes_per_token() const override { return w_.bytes_per_token(); }
  uint64_t total_weight_bytes() const override { return store_.total_bytes(); }
  std::vector<ParamSlot> parameter_slots() override { return w_.slots(); }
  Tensor final_hidden(const Batch& batch) override;
  Tensor output_embedding() const override { return w_.tensor(io::Role::LmHead); }

 private:
  Tensor attention_block(int layer, const Tensor& x, const Batch& b, const Tensor& cos,
                         const Tensor& sin, KvCache* cache);
  // The decoder layers over the batch (cache: null for full-sequence attention): [T, hidden].
  Tensor run_layers(const Batch& b, KvCache* cache);
  Tensor mlp_block(int layer, const Tensor& x);

  io::ModelConfig cfg_;
  io::WeightStore store_;
  int64_t max_context_;
  Weights w_;
  std::vector<float> inv_freq_;
};

}  // namespace r1::models
