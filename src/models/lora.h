// Low-rank adapters (LoRA, Hu et al. 2021) on a model's projections, in the format of Hugging Face
// PEFT so that adapters interchange with it:
//   y = x W^T (+ bias) + (alpha / r) (x A^T) B^T,   A [r, in], B [out, r]
// W stays frozen in its stored dtype (bf16, f16, f32; memory-mapped), A and B are trained in f32.
// A starts as PEFT's default (Kaiming-uniform, a = sqrt(5): U(-1/sqrt(in), 1/sqrt(in))) from a
// seed, B at zero, so a new adapter leaves the model unchanged.
//
// PEFT folder: adapter_config.json {"peft_type": "LORA", "r", "lora_alpha", "target_modules",
// "lora_dropout": 0, "bias": "none", "task_type": "CAUSAL_LM", "base_model_name_or_path"} and
// adapter_model.safetensors with "base_model.model.<module>.lora_A.weight" / ".lora_B.weight".
// Targets are module names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj) of
// Qwen2/Llama models.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace r1::models {

class Model;

struct LoraConfig {
  int64_t rank = 8;
  double alpha = 16;
  std::vector<std::string> targets = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                      "gate_proj", "up_proj", "down_proj"};
};

struct LoraPair {
  Tensor a, b;  // [r, in], [out, r] f32
  float scale = 1;
};

class LoraAdapters {
 public:
  // New adapters on every target projection of the model.
  static std::shared_ptr<LoraAdapters> create(Model& model, const LoraConfig& config,
                                              uint64_t seed);
  // A PEFT adapter folder for this model; Input errors name the file and tensor.
  static std::shared_ptr<LoraAdapters> load(Model& model, const std::string& dir);
  // Writes dir/adapter_config.json and dir/adapter_model.safetensors (each atomically).
  void save(const std::string& dir, const std::string& base_model) const;
  // The text of adapter_config.json.
  std::string config_json(const std::string& base_model) const;
  // Options as flags give them: "q_proj,v_proj" -> targets (empty: the default set).
  static LoraConfig make_config(int64_t rank, double alpha, const std::string& targets);

  // The adapter of a base weight (by its storage), or nullptr.
  const LoraPair* find(const Tensor& weight) const;
  // The trainable tensors, by their PEFT names.
  std::vector<std::pair<std::string, Tensor>> parameters() const;
  // Slots of those tensors (for swapping in another set, as a reference policy does).
  std::vector<std::pair<std::string, Tensor*>> slots();
  const LoraConfig& config() const { return config_; }

 private:
  LoraConfig config_;
  std::map<std::string, LoraPair> by_module_;  // "model.layers.0.self_attn.q_proj" -> pair
  std::unordered_map<const void*, const LoraPair*> by_weight_;
};

// W += (alpha / r) B A for every adapted weight, in place: the merged model needs no adapter.
// The weights must be writable f32 (a model loaded with LoadOptions::trainable).
void merge_lora(Model& model, const LoraAdapters& adapters);

}  // namespace r1::models
