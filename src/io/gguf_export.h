// Hugging Face checkpoint folder -> GGUF file that llama.cpp loads (`r1 convert`, `r1 quantize`):
// Qwen2, Llama and DeepSeek-V3 (llama.cpp's deepseek2) models, tensors renamed as llama.cpp names
// them (token_embd, blk.N.attn_q, ...), Llama's q/k rows permuted from rotate-half order to
// llama.cpp's interleaved pairs, the hyper-parameters and the tokenizer (gguf_tokenizer.h) as
// metadata. DeepSeek-V3 as llama.cpp's converter writes it: the routed experts of a layer as one
// [experts, rows, cols] tensor each for gate, up and down (ffn_*_exps); kv_b_proj split per head
// into attn_k_b (k's rows transposed: [heads, kv_lora, nope]) and attn_v_b ([heads, v, kv_lora]);
// fp8 weights times their block scales; the router and its bias F32; the MTP layer left out.
#pragma once

#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/quant_mix.h"

namespace r1::io {

struct GgufExportOptions {
  // Types of the 2-D weight matrices (io/quant_mix.h: one type, or llama.cpp's Q4_K_M mix).
  // 1-D tensors (norms, biases) are always F32, as llama.cpp's converter writes them.
  QuantMix mix = QuantMix::BF16;
  std::string name;  // general.name (default: the folder's name)
  // Where each tensor starts, in bytes (general.alignment): 64, a cache line, so that r1 can pack
  // every Q4_K matrix in the memory it read the file into (models/model.cc pack_weights: its
  // packed rows are read 64 bytes at a time), where llama.cpp's default 32 leaves half of them
  // at 32 bytes past a line, to be copied out. llama.cpp reads the key.
  uint32_t alignment = 64;
};

struct GgufExportResult {
  size_t tensors = 0;
  // Matrices written as F16 because their rows are not whole blocks of the mix's type (llama.cpp's
  // quantizer falls back the same way), by GGUF name.
  std::vector<std::string> f16_fallback;
};

// Writes `out` atomically. Input errors name the folder or the tensor (an unsupported
// architecture or rope scaling, a missing tensor, a shape config.json does not imply).
GgufExportResult export_gguf(const std::string& model_dir, const std::string& out,
                             const GgufExportOptions& options);

}  // namespace r1::io
