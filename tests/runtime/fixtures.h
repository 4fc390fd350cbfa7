// Reading the model fixtures and their goldens (tests/fixtures/models, written by tools/reference).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace r1::testing {

inline std::string fixture_dir(const std::string& name) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/" + name;
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace r1::testing
