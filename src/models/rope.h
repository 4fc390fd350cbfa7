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
std::vector<float> rope_inv_freq(int64_t dim, double theta, const io::RopeScaling& scaling);

// cos/sin [positions.size(), dim/2] with angle = float(position) * inv_freq[i] in f32, as HF.
void rope_tables(const std::vector<float>& inv_freq, const std::vector<int32_t>& positions,
                 Tensor* cos, Tensor* sin);

}  // namespace r1::models
