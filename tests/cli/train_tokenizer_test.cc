// `r1 train tokenizer`: corpus files -> a tokenizer folder that `r1 tokenize` loads; bad flags
// and bad corpora end with exit code 2 and one line on stderr.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/temp_path.h"
#include "cli_run.h"

namespace {

using r1::testing::run_r1;
using r1::testing::slurp_file;

std::string temp_dir() {
  return r1::testing::fresh_temp_dir("r1_train_tok_");
}

std::string corpus_txt() {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/bpe_train/corpus.txt";
}

size_t lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(TrainTokenizerCli, WritesAFolderThatTokenizes) {
  const std::string dir = temp_dir();
  const std::string out = dir + "/tok";
  const auto r =
      run_r1("train tokenizer --corpus " + corpus_txt() + " --vocab-size 400 --special r1 --out " +
             out + " --template-from " + R1_TOKENIZERS_DIR + "/r1-distill-qwen");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("bytes/token"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vocab size 400"), std::string::npos) << r.err;
  // Byte for byte the committed fixture (same corpus and options).
  EXPECT_EQ(slurp_file(out + "/tokenizer.json"),
            slurp_file(std::string(R1_SOURCE_DIR) + "/tests/fixtures/bpe_train/tokenizer.json"));
  const auto config = nlohmann::json::parse(slurp_file(out + "/tokenizer_config.json"));
  const auto source = nlohmann::json::parse(
      slurp_file(std::string(R1_TOKENIZERS_DIR) + "/r1-distill-qwen/tokenizer_config.json"));
  EXPECT_EQ(config["chat_template"], source["chat_template"]);
  EXPECT_EQ(config["bos_token"], "<｜begin▁of▁sentence｜>");
  const auto ids = run_r1("tokenize -m " + out + " --add-special-tokens", "<think>2024</think>");
  EXPECT_EQ(ids.code, 0) << ids.err;
  EXPECT_EQ(ids.out, "[396,397,17,15,17,19,398]\n");  // BOS <think> 2 0 2 4 </think>
}

TEST(TrainTokenizerCli, ReadsJsonlAndCapsBytes) {
  const std::string dir = temp_dir();
  std::ofstream(dir + "/c.jsonl") << "{\"text\": \"the cat sat on the mat\"}\n"
                                  << "{\"messages\": [{\"role\": \"user\", \"content\": \"the "
                                     "cat\"}, {\"role\": \"assistant\", "
                                     "\"content\": \"sat on the mat\"}]}\n"
                                  << "\n"
                                  << "{\"prompt\": \"the\", \"response\": \"mat\"}\n";
  const auto r = run_r1("train tokenizer --corpus " + dir + "/c.jsonl," + corpus_txt() +
                        " --vocab-size 300 --special none --min-frequency 3 --max-bytes 5000 -o " +
                        dir + "/tok");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("vocab size 300"), std::string::npos) << r.err;
  const auto config = nlohmann::json::parse(slurp_file(dir + "/tok/tokenizer_config.json"));
  EXPECT_TRUE(config["bos_token"].is_null());
  EXPECT_FALSE(config.contains("chat_template"));
  // 5000 bytes: the JSONL file and part of corpus.txt.
  EXPECT_NE(r.err.find("corpus: 4"), std::string::npos) << r.err;
}

TEST(TrainTokenizerCli, BadUsageAndInputExitTwo) {
  const std::string dir = temp_dir();
  std::ofstream(dir + "/bad.jsonl") << "{\"text\": \"ok\"}\n{\"other\": 1}\n";
  std::ofstream(dir + "/worse.jsonl") << "{\"text\": \"ok\"}\n{not json\n";
  const std::string out = " --out " + dir + "/tok";
  for (const std::string& args : {
           "train tokenizer --corpus " + corpus_txt() + " --vocab-size 400 --bogus 1" + out,
           "train tokenizer --corpus " + dir + "/missing.txt --vocab-size 400" + out,
           "train tokenizer --corpus " + corpus_txt() + out,
           "train tokenizer --corpus " + corpus_txt() + " --vocab-size 100" + out,
           "train tokenizer --corpus " + corpus_txt() + " --vocab-size 400 --special gpt" + out,
           "train tokenizer --corpus " + corpus_txt() + " --vocab-size 400 --template-from " + dir +
               out,
           "train tokenizer --corpus " + dir + "/bad.jsonl --vocab-size 300" + out,
           "train tokenizer --corpus " + dir + "/worse.jsonl --vocab-size 300" + out,
       }) {
    const auto r = run_r1(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(lines(r.err), 1u) << args << "\n" << r.err;
  }
  const auto bad = run_r1("train tokenizer --corpus " + dir + "/bad.jsonl --vocab-size 300" + out);
  EXPECT_NE(bad.err.find("bad.jsonl:2"), std::string::npos) << bad.err;
}

}  // namespace
