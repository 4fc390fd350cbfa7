// The stop ids every generating command uses: config.json's, generation_config.json's and the
// tokenizer's eos, with generation_config.json checked against the vocabulary.
#include "tokenizer/stop_ids.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace r1::tok {
namespace {

namespace fs = std::filesystem;

TEST(StopIds, ConfigGenerationConfigAndTokenizer) {
  const std::string src = std::string(R1_SOURCE_DIR) + "/models/r1-tiny-random";
  const Tokenizer tk = Tokenizer::load(src);
  ASSERT_GE(tk.eos_id(), 0);
  const std::string dir =
      (fs::temp_directory_path() / ("r1_stop_ids_" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  io::ModelConfig cfg;
  cfg.vocab = 768;
  cfg.eos_token_ids = {5};
  // no generation_config.json, no tokenizer: config.json's ids only
  EXPECT_EQ(stop_ids(dir, cfg, nullptr), (std::vector<int32_t>{5}));
  std::ofstream(dir + "/generation_config.json") << R"({"eos_token_id": [7, 9]})";
  EXPECT_EQ(stop_ids(dir, cfg, &tk), (std::vector<int32_t>{5, 7, 9, tk.eos_id()}));
  std::ofstream(dir + "/generation_config.json") << R"({"eos_token_id": 11, "top_p": 0.9})";
  EXPECT_EQ(stop_ids(dir, cfg, nullptr), (std::vector<int32_t>{5, 11}));
  std::ofstream(dir + "/generation_config.json") << R"({"eos_token_id": null})";
  EXPECT_EQ(stop_ids(dir, cfg, nullptr), (std::vector<int32_t>{5}));
  for (const char* bad :
       {R"({"eos_token_id": [1, 768]})", R"({"eos_token_id": -1})", R"({"eos_token_id": "2"})"}) {
    std::ofstream(dir + "/generation_config.json") << bad;
    try {
      stop_ids(dir, cfg, nullptr);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input) << bad;
      EXPECT_NE(std::string(e.what()).find("generation_config.json"), std::string::npos) << bad;
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace r1::tok
