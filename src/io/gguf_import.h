// GGUF files as model folders, so that `-m FILE.gguf` works in every command: the file's metadata
// becomes config.json, tokenizer.json and tokenizer_config.json in a small cache folder, and its
// tensors are read in place (views into the file, no copy) under Hugging Face names, Llama's q/k
// rows turned back from llama.cpp's interleaved pairs to rotate-half order.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/mapped_file.h"
#include "io/gguf.h"

namespace r1::io {

class WeightStore;

// In a prepared folder: the GGUF file's absolute path.
constexpr const char* kGgufSourceFile = "gguf_source";

// config.json of a GGUF file (architectures qwen2 and llama); Input errors name the file.
nlohmann::json gguf_model_config(const GgufFile& g);

// The folder standing for a GGUF file, under $R1_CACHE_DIR (default $XDG_CACHE_HOME/r1 or
// ~/.cache/r1) in gguf/, made on first use and reused while the file keeps its size and time.
std::string prepare_gguf_folder(const std::string& gguf_path);

// The weights of a prepared folder.
WeightStore open_gguf_folder(const std::string& dir, LoadMode mode);

}  // namespace r1::io
