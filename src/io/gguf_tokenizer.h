// The tokenizer as GGUF metadata (llama.cpp's tokenizer.ggml.* keys, docs/FACTS.md section 8)
// from a Hugging Face byte-level BPE tokenizer (tokenizer.json and tokenizer_config.json).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "io/gguf.h"

namespace r1::io {

// llama.cpp's name of a byte-level BPE pre-tokenizer ("qwen2", "llama-bpe", "deepseek-v3"),
// recognised by its Split regexes; an Input error naming `where` for one r1 cannot name.
std::string gguf_pre_tokenizer_name(const nlohmann::json& tokenizer_json, const std::string& where);

// tokenizer.ggml.model "gpt2", .pre, .tokens (padded to vocab_size with "[PAD<id>]" tokens),
// .token_type (1 normal, 3 control for special added tokens, 4 user-defined for other added
// tokens, 5 unused for padding), .merges, .bos/.eos/.padding_token_id, .add_bos_token,
// .add_eos_token and tokenizer.chat_template, from the tokenizer's two JSON files.
std::vector<std::pair<std::string, GgufValue>> gguf_tokenizer_metadata(
    const nlohmann::json& tokenizer_json, const nlohmann::json& tokenizer_config,
    int64_t vocab_size, const std::string& where);

// The other way: tokenizer.json and tokenizer_config.json of a GGUF file's tokenizer metadata
// (tokenizer.ggml.model "gpt2" with a pre-tokenizer r1 knows). The pre-tokenizer, normalizer and
// decoder are those of the Hugging Face files llama.cpp's name stands for (qwen2: Qwen2.5's and
// R1-Distill-Qwen's, with NFC; llama-bpe: Llama 3's, ignore_merges; deepseek-v3: DeepSeek-V3's).
std::pair<nlohmann::json, nlohmann::json> gguf_tokenizer_files(const GgufFile& g);

}  // namespace r1::io
