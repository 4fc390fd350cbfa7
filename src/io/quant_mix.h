// Quantization mixes: which type each weight matrix of a checkpoint gets, as llama.cpp's
// quantizer chooses it for the file types of the same names (llama-quant.cpp's
// llama_tensor_get_type, read for its rules). Used by `r1 quantize` / `r1 convert` (GGUF files)
// and by --quantize (in memory), so both give the same model.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace r1::io {

enum class QuantMix { F32, F16, BF16, Q8_0, Q4_0, Q4_K_M };

// "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m"; false for anything else.
bool parse_quant_mix(const std::string& s, QuantMix* out);
const char* quant_mix_name(QuantMix m);
// llama.cpp's llama_ftype for general.file_type: 0, 1, 32, 7, 2, 15.
int64_t quant_mix_file_type(QuantMix m);
bool is_quantized(QuantMix m);  // Q8_0, Q4_0, Q4_K_M

// The type of the 2-D weight matrix `name` (a Hugging Face name: model.embed_tokens.weight,
// model.layers.N.self_attn.v_proj.weight, lm_head.weight, ...) with rows of `cols` values in a
// model of n_layers layers:
//   F32/F16/BF16/Q8_0/Q4_0: that type, except that Q4_0 gives the output layer (lm_head, or the
//     embeddings when tied to it) Q6_K;
//   Q4_K_M: Q4_K, with Q6_K for the output layer and for v_proj and every down_proj (DeepSeek's
//     routed and shared experts' too: llama.cpp's ffn_down*) in the layers llama.cpp's
//     use_more_bits picks (the first and last eighth, every third in between).
// A type whose blocks do not divide `cols` falls back as llama.cpp's quantizer does: Q4_K to
// Q5_0, Q6_K to Q8_0, and any 32-block type to F16 when 32 does not divide `cols` either.
DType quant_mix_type(QuantMix m, const std::string& name, int64_t cols, int64_t n_layers,
                     bool tied_embeddings);

}  // namespace r1::io
