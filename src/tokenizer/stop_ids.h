// The token ids that end a model's generation, gathered the same way by every command that
// generates (r1 generate / chat / serve, GRPO rollouts, rejection sampling).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "tokenizer/tokenizer.h"

namespace r1::tok {

// config.json's eos_token_id (cfg.eos_token_ids), then generation_config.json's in folder `dir`
// when it has one (an id or a list: each must be an id of the vocabulary, else an input error
// naming the file), then the tokenizer's eos token when `tk` is given and has one. Ids may repeat.
std::vector<int32_t> stop_ids(const std::string& dir, const io::ModelConfig& cfg,
                              const Tokenizer* tk);

}  // namespace r1::tok
