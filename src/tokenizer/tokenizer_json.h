// Fast reading of tokenizer.json. The BPE vocabulary and merges (most of the file: 150k entries
// each for Qwen) are read by a small dedicated scanner straight into the model's containers;
// every other field goes through nlohmann::json. Parsing the whole file with nlohmann::json
// took several times longer (see bench/tokenizer_bench.sh).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/flat_map.h"

namespace r1::tok {

// Ids at or above this are rejected: tables are indexed by id, and real vocabularies are < 1M.
constexpr int64_t kMaxTokenId = int64_t(1) << 24;

struct TokenizerJson {
  // model: {"type": "BPE", ...}
  TokenTable vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  bool ignore_merges = false;
  std::string unk_token;  // "" if null
  bool fuse_unk = false;
  // The top-level object without "model" (normalizer, pre_tokenizer, added_tokens, ...).
  nlohmann::json rest = nlohmann::json::object();
};

// Throws an Input error naming `file` and the field for malformed JSON or unsupported model
// options (non-BPE models, byte_fallback, dropout, subword prefixes/suffixes).
TokenizerJson parse_tokenizer_json(std::string_view text, const std::string& file);

}  // namespace r1::tok
