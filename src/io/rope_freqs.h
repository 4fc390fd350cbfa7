// Llama 3's rope scaling as GGUF files carry it: llama.cpp's converter stores no rope_scaling
// fields for it but a tensor rope_freqs.weight [head_dim / 2] of per-frequency divisors
// (inv_freq'[i] = inv_freq[i] / factors[i]; 1 for short wavelengths, `factor` for long ones,
// 1 / ((1 - s) / factor + s) between, s = (original / wavelength - low) / (high - low): the same
// function as Hugging Face's _compute_llama3_parameters). r1 writes that tensor and, reading a
// file, recovers the rope_scaling fields it came from.
#pragma once

#include <cstdint>
#include <vector>

#include "io/model_config.h"

namespace r1::io {

// inv_freq[i] = theta^(-2i / dim) for i < dim / 2, in f32 as Hugging Face computes it (the
// unscaled frequencies models/rope.h starts from).
std::vector<float> rope_base_inv_freq(int64_t dim, double theta);

// The divisors for rope_scaling "llama3" (of rope_base_inv_freq).
std::vector<float> llama3_freq_factors(int64_t dim, double theta, const RopeScaling& s);

// The llama3 rope_scaling whose divisors equal `factors` (relative 1e-5), assuming Llama 3's
// low_freq_factor 1 and high_freq_factor 4 (every Llama 3.x and R1-Distill-Llama checkpoint);
// type "" when every divisor is 1. Fails (Input error, naming `where`) otherwise.
RopeScaling llama3_from_freq_factors(const std::vector<float>& factors, int64_t dim, double theta,
                                     const std::string& where);

}  // namespace r1::io
