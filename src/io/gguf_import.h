// GGUF files as model folders, so that `-m FILE.gguf` works in every command: the file's metadata
// becomes config.json, tokenizer.json and tokenizer_config.json in a small cache folder, and its
// tensors are read in place (views into the file, no copy) under Hugging Face names, Llama's q/k
// rows turned back from llama.cpp's interleaved pairs to rotate-half order, DeepSeek's routed
// experts as views into the one tensor of each layer, and its attn_k_b / attn_v_b joined back into
// kv_b_proj (f32 unless both halves are the same 16-bit type; older files' attn_kv_b as it is).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/mapped_file.h"
#include "io/gguf.h"

namespace r1::io {

class WeightStore;

// In a prepared folder: the GGUF file's absolute path.
constexpr const char* kGgufSourceFile = "gguf_source";

// DeepSeek's kv_b_proj as llama.cpp splits it: for "blk.N.attn_k_b.weight" or
// "blk.N.attn_v_b.weight", the name of the whole ("blk.N.attn_kv_b.weight"); "" for other names.
std::string joined_kv_b_name(const std::string& name);

// llama.cpp's converter reorders the q/k rows (and biases) of "llama" models within each head of
// d rows: GGUF row 2i + j is Hugging Face row j*d/2 + i. This moves whole rows (of any dtype, a
// bias's rows being single values) either way.
Tensor reorder_rope_rows(const Tensor& t, int64_t heads, bool to_gguf);

// config.json of a GGUF file (architectures qwen2, llama and deepseek2); Input errors name the
// file.
nlohmann::json gguf_model_config(const GgufFile& g);

// The folder standing for a GGUF file, under $R1_CACHE_DIR (default $XDG_CACHE_HOME/r1 or
// ~/.cache/r1) in gguf/, made on first use and reused while the file keeps its size and time.
std::string prepare_gguf_folder(const std::string& gguf_path);

// The weights of a prepared folder.
WeightStore open_gguf_folder(const std::string& dir, LoadMode mode);

// Writes a GGUF file as a Hugging Face folder (`r1 convert -m FILE.gguf --out DIR`): config.json,
// tokenizer.json, tokenizer_config.json and model.safetensors under Hugging Face names. F32, F16
// and BF16 tensors keep their type; block-quantized ones (safetensors has no such types) become
// `dequantized`. The folder is made next to `out` and renamed into place when complete; `out`
// must not exist. Returns the number of tensors.
size_t gguf_to_folder(const std::string& gguf_path, const std::string& out, DType dequantized);

}  // namespace r1::io
