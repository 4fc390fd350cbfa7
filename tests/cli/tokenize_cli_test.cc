// `r1 tokenize`: stdin text -> ids; --jsonl lines of {"text"} / {"messages"} -> {"ids"}.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include "cli_run.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using r1::testing::run_r1;
using Result = r1::testing::CliResult;

std::string model(const std::string& name) {
  return std::string(R1_TOKENIZERS_DIR) + "/" + name;
}

// Ids from docs/FACTS.md section 3: BOS 0, <｜User｜> 128803, <｜Assistant｜> 128804, <think>
// 128798.
TEST(TokenizeCli, TextToIds) {
  Result plain = run_r1("tokenize -m " + model("r1"), "Hello world");
  EXPECT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(plain.out, "[19923,2058]\n");
  Result special = run_r1("tokenize -m " + model("r1") + " --add-special-tokens", "Hello world");
  EXPECT_EQ(special.code, 0) << special.err;
  EXPECT_EQ(special.out, "[0,19923,2058]\n");
  Result empty = run_r1("tokenize -m " + model("r1"), "");
  EXPECT_EQ(empty.out, "[]\n");
}

TEST(TokenizeCli, JsonlTextAndMessages) {
  Result r = run_r1("tokenize -m " + model("r1") + " --jsonl",
                    "{\"text\": \"Hello world\"}\n\n"
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n"
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], "
                    "\"add_generation_prompt\": false}\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"ids\":[19923,2058]}\n"
            "{\"ids\":[0,128803,23166,128804,128798,201]}\n"
            "{\"ids\":[0,128803,23166]}\n");
}

TEST(TokenizeCli, MessagesAreNotGivenASecondBos) {
  Result r = run_r1("tokenize -m " + model("r1") + " --jsonl --add-special-tokens",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[0,128803,23166,128804,128798,201]}\n");
}

TEST(TokenizeCli, BadLinesNameTheLineAndExitTwo) {
  for (const std::string& bad : {std::string("nope"), std::string("[1]"), std::string("{}"),
                                 std::string("{\"text\": 5}"), std::string("{\"messages\": {}}")}) {
    Result r =
        run_r1("tokenize -m " + model("r1") + " --jsonl", "{\"text\": \"a\"}\n" + bad + "\n");
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("stdin line 2"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  Result no_tokenizer = run_r1("tokenize -m " + std::string(R1_SOURCE_DIR) + "/src", "x");
  EXPECT_EQ(no_tokenizer.code, 2) << no_tokenizer.err;
}

}  // namespace
