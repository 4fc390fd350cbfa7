// DeepseekV3ForCausalLM (DeepSeek-V3, R1, R1-Zero): multi-head latent attention with a latent
// KV cache, DeepSeekMoE with sigmoid noaux_tc routing and shared experts, YaRN rotary
// frequencies, FP8 (e4m3, block-scaled) or bf16/f32 weights, and the multi-token-prediction
// layer. Formulas: docs/FACTS.md section 2 (checked against DeepSeek's inference/model.py and HF's
// modeling_deepseek.py by tools/reference/deepseek_v3.py).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "models/model.h"
#include "models/weights.h"
#include "ops/mla.h"
#include "ops/moe.h"

namespace r1::models {

class DeepseekV3Model : public Model {
 public:
  DeepseekV3Model(const io::ModelConfig& cfg, io::WeightStore store, const LoadOptions& opt);

  const io::ModelConfig& config() const override { return cfg_; }
  KvCache new_cache() const override;
  Tensor forward(const Batch& batch, KvCache& cache) override;
  uint64_t weight_bytes_per_token() const override { return w_.bytes_per_token(); }
  uint64_t total_weight_bytes() const override { return store_.total_bytes(); }
  std::vector<ParamSlot> parameter_slots() override { return w_.slots(); }
  Tensor final_hidden(const Batch& batch) override;
  Tensor output_embedding() const override { return w_.tensor(io::Role::LmHead); }

  // forward() that also returns the final-normed hidden state of every token of the batch
  // ([T, hidden], the MTP layer's input).
  Tensor forward_hidden(const Batch& batch, KvCache& cache, Tensor* hidden);
  bool has_mtp() const { return has_mtp_; }
  // The MTP head: for each i, the token after `next[i]` predicted from hidden[i] (the main
  // model's final-normed hidden state at pos[i]) and the embedding of next[i] (the token at
  // pos[i] + 1). Runs the MTP layer's attention at positions pos[i] of cache slot seq[i].
  // Returns logits [n, vocab].
  Tensor mtp_forward(const Tensor& hidden, const std::vector<int32_t>& next,
                     const std::vector<int32_t>& pos, const std::vector<int32_t>& seq,
                     KvCache& cache);
  // Use the naive MLA form instead of the absorbed one (a reference for tests).
  void set_naive_attention(bool on) { naive_ = on; }
  // Bytes of cache per token in each MLA form (all layers): absorbed caches c and k_pe;
  // naive caches per-head keys (nope + rope) and values (v).
  int64_t absorbed_cache_bytes_per_token() const;
  int64_t naive_cache_bytes_per_token() const;

 private:
  // With a cache: the latent cache and the absorbed (or naive) MLA form; without (training,
  // final_hidden): full-sequence attention within the batch's packed sequences.
  Tensor attention(int layer, const Tensor& h, const Batch& b, const Tensor& cos, const Tensor& sin,
                   KvCache* cache);
  Tensor ffn(int layer, const Tensor& h);
  // cos/sin [T, qk_rope_head_dim / 2] for the batch's positions, with HF's yarn multiplier.
  void rope(const Batch& b, Tensor* cos, Tensor* sin) const;
  // Layer `layer` (n_layers: the MTP layer's) on x.
  Tensor layer_forward(int layer, Tensor x, const Batch& b, const Tensor& cos, const Tensor& sin,
                       KvCache* cache);
  // Embedding and every layer (before the final norm); cache is null for full sequences.
  Tensor run_layers(const Batch& b, KvCache* cache);

  io::ModelConfig cfg_;
  io::WeightStore store_;
  int64_t max_context_;
  Weights w_;
  bool has_mtp_ = false;
  std::vector<float> inv_freq_;
  float rope_factor_ = 1.0f;  // HF's cos/sin multiplier (yarn mscale ratio)
  ops::MlaShape mla_;
  std::vector<ops::Weight> key_t_;  // per layer: ops::mla_key_transposed of kv_b (fp8 only)
  ops::MoeRouting routing_;
  bool naive_ = false;
};

}  // namespace r1::models
