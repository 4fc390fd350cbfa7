// Flags and set-up shared by the commands that run a model.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "models/model.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace r1::cli {

// The usage text of the flags below.
extern const char* kModelFlagsUsage;
extern const char* kSamplingFlagsUsage;

struct LoadedModel {
  std::string dir;
  std::unique_ptr<models::Model> model;
  std::optional<tok::Tokenizer> tokenizer;  // absent when the folder has no tokenizer.json
  std::vector<int32_t> eos_ids;  // config.json, generation_config.json and the tokenizer's
};

// Reads --threads N (0 or absent: every CPU) and sizes the thread pool.
void take_threads(Args& args);
// Reads --bf16-matmul (training: bf16 products for f32 weights, ops::set_bf16_matmul). Ignored,
// with a warning, where the kernels have no bf16 dot products (below AVX-512 BF16).
void take_bf16_matmul(Args& args);
// Reads -m/--model, --threads, --no-mmap, --ctx, --quantize, --adapter, --fast-bf16 / --exact and
// loads the model (and its tokenizer if the folder has one). bf16 weights use bf16 dot products
// unless --exact, when `fast_bf16_default` and the CPU has them.
LoadedModel load_model_from_flags(Args& args, bool fast_bf16_default = true);
// Reads --temperature, --top-p, --top-k, --min-p, --repetition-penalty, --presence-penalty,
// --frequency-penalty, --seed. Defaults: R1's recommendations.
runtime::SamplingParams take_sampling(Args& args);

// Reads --kv-dtype f32|bf16 (the KV cache's rows).
DType take_kv_dtype(Args& args, DType dflt);

// Reads all of stdin.
std::string read_stdin();

}  // namespace r1::cli
