// The tensors a checkpoint of a config holds: Hugging Face names and shapes, in a stable order
// (what `r1 train init` writes; the loaders check the same names and shapes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/model_config.h"

namespace r1::models {

enum class InitKind { Normal, Ones, Zeros };

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  InitKind init;  // matrices and embeddings: normal; norms: ones; biases: zeros
};

// Qwen2/Llama and DeepSeek-V3 (without MTP layers and without FP8 scales).
std::vector<TensorSpec> checkpoint_layout(const io::ModelConfig& cfg);

}  // namespace r1::models
