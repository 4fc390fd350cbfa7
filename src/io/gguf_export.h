// Hugging Face checkpoint folder -> GGUF file that llama.cpp loads (`r1 convert`, `r1 quantize`):
// Qwen2 and Llama models, tensors renamed as llama.cpp names them (token_embd, blk.N.attn_q, ...),
// Llama's q/k rows permuted from rotate-half order to llama.cpp's interleaved pairs, the
// hyper-parameters and the tokenizer (gguf_tokenizer.h) as metadata.
#pragma once

#include <string>

#include "core/dtype.h"
#include "io/quant_mix.h"

namespace r1::io {

struct GgufExportOptions {
  // Types of the 2-D weight matrices (io/quant_mix.h: one type, or llama.cpp's Q4_K_M mix).
  // 1-D tensors (norms, biases) are always F32, as llama.cpp's converter writes them.
  QuantMix mix = QuantMix::BF16;
  std::string name;  // general.name (default: the folder's name)
};

// Writes `out` atomically; returns the number of tensors written. Input errors name the folder
// or the tensor (an unsupported architecture, a missing tensor, a matrix whose rows are not whole
// blocks of any type the mix allows).
size_t export_gguf(const std::string& model_dir, const std::string& out,
                   const GgufExportOptions& options);

}  // namespace r1::io
