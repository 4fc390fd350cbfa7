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
// Reads -m/--model, --threads, --no-mmap, --ctx and loads the model (and its tokenizer if the
// folder has one).
LoadedModel load_model_from_flags(Args& args);
// Reads --temperature, --top-p, --top-k, --min-p, --repetition-penalty, --presence-penalty,
// --frequency-penalty, --seed. Defaults: R1's recommendations.
runtime::SamplingParams take_sampling(Args& args);

// Reads --kv-dtype f32|bf16 (the KV cache's rows).
DType take_kv_dtype(Args& args, DType dflt);

// Reads all of stdin.
std::string read_stdin();

}  // namespace r1::cli
