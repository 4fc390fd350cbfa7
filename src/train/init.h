// `r1 train init`: a new model of a supported architecture and size with a given tokenizer,
// randomly initialized (normal(0, init_std) matrices and embeddings as HF's initializer_range,
// norms 1, biases 0), written as a Hugging Face folder.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace r1::train {

struct InitOptions {
  std::string arch = "qwen2";  // qwen2 | llama | deepseek_v3
  std::string tokenizer_dir;   // tokenizer.json + tokenizer_config.json (chat template)
  int64_t vocab = 0;           // 0: the tokenizer's size rounded up to a multiple of 64
  int64_t hidden = 256, layers = 4, heads = 4, kv_heads = 0;  // kv_heads 0: = heads
  int64_t intermediate = 0;  // 0: 8/3 hidden rounded up to a multiple of 32 (dense layers)
  int64_t head_dim = 0;      // 0: hidden / heads
  int64_t max_position = 4096;
  double rope_theta = 10000.0, rms_norm_eps = 1e-6;
  bool tie_embeddings = true;
  // DeepSeek-V3 only.
  int64_t q_lora_rank = 0, kv_lora_rank = 64, qk_nope_head_dim = 32, qk_rope_head_dim = 16;
  int64_t v_head_dim = 32, n_routed_experts = 8, experts_per_tok = 2, n_shared_experts = 1;
  int64_t moe_intermediate = 0, n_group = 1, topk_group = 1, first_k_dense_replace = 1;
  double routed_scaling_factor = 2.5;
  uint64_t seed = 0;
  double init_std = 0.02;
  std::string dtype = "f32";  // f32 | bf16 (the written weights)
};

// The config.json of the new model.
nlohmann::ordered_json make_config(const InitOptions& o, int64_t vocab, int32_t bos, int32_t eos);
// Writes out_dir; returns the number of parameters.
int64_t init_model(const InitOptions& o, const std::string& out_dir);

}  // namespace r1::train
