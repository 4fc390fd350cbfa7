// config.json of a Hugging Face model folder, for the architectures r1 runs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace r1::io {

enum class Arch { Qwen2, Llama };

// rope_scaling from config.json. type "" means none. "llama3" (Llama 3.1): factor,
// low_freq_factor, high_freq_factor, original_max_position_embeddings.
struct RopeScaling {
  std::string type;
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
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
  int32_t bos_token_id = -1;
  std::vector<int32_t> eos_token_ids;
  std::string torch_dtype;

  static ModelConfig parse(const nlohmann::json& j, const std::string& where);
  static ModelConfig load(const std::string& model_dir);  // model_dir/config.json
};

}  // namespace r1::io
