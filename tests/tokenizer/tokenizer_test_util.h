// Shared helpers for the tokenizer tests: the five real tokenizers of
// tests/fixtures/tokenizers.tar.xz (loaded once per test program) and the committed oracle corpus
// and goldens.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "tokenizer/tokenizer.h"

namespace r1::tok::testing {

inline const std::vector<std::string>& tokenizer_names() {
  static const std::vector<std::string> names = {"deepseek-v3", "r1", "qwen2.5", "r1-distill-qwen",
                                                 "llama3.1"};
  return names;
}

inline std::string tokenizer_dir(const std::string& name) {
  return std::string(R1_TOKENIZERS_DIR) + "/" + name;
}

inline const Tokenizer& shared_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto& slot = cache[name];
  if (!slot) slot = std::make_unique<Tokenizer>(Tokenizer::load(tokenizer_dir(name)));
  return *slot;
}

inline std::string fixture_path(const std::string& file) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/tokenizer/" + file;
}

inline const std::vector<std::string>& corpus() {
  static const std::vector<std::string> texts =
      nlohmann::json::parse(read_file(fixture_path("corpus.json"))).get<std::vector<std::string>>();
  return texts;
}

inline const nlohmann::json& goldens() {
  static const nlohmann::json g = nlohmann::json::parse(read_file(fixture_path("goldens.json")));
  return g;
}

}  // namespace r1::tok::testing
