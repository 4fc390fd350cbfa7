// Rotary position embedding frequencies and per-token cos/sin tables.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "io/model_config.h"

namespace r1::models {

// inv_freq[i] = theta^(-2i/dim) for i < dim/2, adjusted by rope_scaling "llama3" as Hugging Face
// transformers' _compute_llama3_parameters does (modeling_rope_utils.py): wavelengths longer than
// original_max_position_embeddings / low_freq_factor are divided by factor, shorter than
// original / high_freq_factor kept, and those between blended linearly in original / wavelength.
// rope_scaling "yarn" (DeepSeek-V3; HF modeling_deepseek.py DeepseekV3YarnRotaryEmbedding):
// f' = f / factor * ramp + f * (1 - ramp), ramp rising linearly over the dimensions between
// the correction range of beta_fast and beta_slow (docs/FACTS.md section 2).
std::vector<float> rope_inv_freq(int64_t dim, double theta, const io::RopeScaling& scaling);

// yarn_get_mscale(s, m) = 1 if s <= 1 else 0.1 * m * ln(s) + 1.
double yarn_mscale(double factor, double m);
// What HF multiplies cos/sin by: yarn_mscale(factor, mscale) / yarn_mscale(factor, mscale_all_dim)
// (1 without yarn).
double rope_attention_factor(const io::RopeScaling& scaling);

// cos/sin [positions.size(), dim/2] with angle = float(position) * inv_freq[i] in f32, as HF.
void rope_tables(const std::vector<float>& inv_freq, const std::vector<int32_t>& positions,
                 Tensor* cos, Tensor* sin);

}  // namespace r1::models
