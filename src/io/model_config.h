// config.json of a Hugging Face model folder, for the architectures r1 runs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace r1::io {

enum class Arch { Qwen2, Llama, DeepseekV3 };

// rope_scaling from config.json. type "" means none. "llama3" (Llama 3.1): factor,
// low_freq_factor, high_freq_factor, original_max_position_embeddings. "yarn" (DeepSeek-V3):
// factor, original_max_position_embeddings, beta_fast, beta_slow, mscale, mscale_all_dim.
struct RopeScaling {
  std::string type;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 0.0;
};

// DeepSeek-V3 fields (docs/FACTS.md section 2): multi-head latent attention and DeepSeekMoE.
struct DeepseekConfig {
  int64_t q_lora_rank = 0;  // 0: null in config.json, q_proj instead of q_a/q_b
  int64_t kv_lora_rank = 0, qk_nope_head_dim = 0, qk_rope_head_dim = 0, v_head_dim = 0;
  int64_t moe_intermediate = 0, n_routed_experts = 0, n_shared_experts = 0;
  int64_t experts_per_tok = 0, n_group = 1, topk_group = 1, first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  double routed_scaling_factor = 1.0;
  bool norm_topk_prob = true;
  int64_t num_nextn_predict_layers = 0;
  bool fp8 = false;  // quantization_config {quant_method fp8, fmt e4m3}
  int64_t fp8_block_out = 128, fp8_block_in = 128;  // weight_block_size

  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
};

struct ModelConfig {
  Arch arch = Arch::Qwen2;
  std::string arch_name;  // as in "architectures", e.g. "Qwen2ForCausalLM"
  int64_t hidden = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;  // "head_dim" if present, else hidden / n_heads
  int64_t intermediate = 0;
  int64_t vocab = 0;
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (always for Qwen2)
  bool mlp_bias = false;        // gate/up/down biases (Llama's mlp_bias)
  int32_t bos_token_id = -1;
  std::vector<int32_t> eos_token_ids;
  std::string torch_dtype;
  DeepseekConfig ds;  // Arch::DeepseekV3 only

  static ModelConfig parse(const nlohmann::json& j, const std::string& where);
  static ModelConfig load(const std::string& model_dir);  // model_dir/config.json
};

}  // namespace r1::io
