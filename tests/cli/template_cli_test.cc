// `r1 template`: stdin JSON -> the rendered prompt on stdout; bad input -> one line, exit 2.
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

const std::string kChat =
    R"({"messages": [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Hi"}]})";

TEST(TemplateCli, RendersWithR1Conventions) {
  Result r = run_r1("template -m " + model("r1"), kChat);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "<｜begin▁of▁sentence｜><｜User｜>Sys\n\nHi<｜Assistant｜><think>\n");
}

TEST(TemplateCli, KeepSystemAndNoGenerationPrompt) {
  Result r = run_r1("template -m " + model("r1") + " --keep-system --no-generation-prompt", kChat);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "<｜begin▁of▁sentence｜>Sys<｜User｜>Hi");
  Result field = run_r1(
      "template -m " + model("qwen2.5"),
      R"({"messages": [{"role": "user", "content": "Hi"}], "add_generation_prompt": false})");
  EXPECT_EQ(field.code, 0) << field.err;
  EXPECT_EQ(field.out, "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(TemplateCli, ToolsKeepTheirKeyOrder) {
  Result r = run_r1("template -m " + model("qwen2.5"),
                    R"({"messages": [{"role": "user", "content": "Hi"}],
                        "tools": [{"type": "function", "function": {"name": "f"}}]})");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(R"({"type": "function", "function": {"name": "f"}})"), std::string::npos)
      << r.out;
}

TEST(TemplateCli, ChatTemplateKwargsBecomeTemplateVariables) {
  Result r = run_r1("template -m " + model("qwen2.5"),
                    R"({"messages": [{"role": "user", "content": "Hi"}],
                        "chat_template_kwargs": {"enable_thinking": false}})");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(TemplateCli, BadInputIsOneLineAndExitTwo) {
  for (const std::string& input :
       {std::string("{not json"), std::string("{}"), std::string(R"({"messages": 3})"),
        std::string(R"({"messages": [{"content": "no role"}]})"),
        std::string(R"({"messages": [], "add_generation_prompt": "yes"})"),
        std::string(R"({"messages": [], "tools": {}})"),
        std::string(R"({"messages": [], "chat_template_kwargs": []})")}) {
    Result r = run_r1("template -m " + model("r1"), input);
    EXPECT_EQ(r.code, 2) << input;
    EXPECT_EQ(r.out, "") << input;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  }
  Result missing = run_r1("template -m /nonexistent/model", kChat);
  EXPECT_EQ(missing.code, 2);
  Result flag = run_r1("template -m " + model("r1") + " --bogus", kChat);
  EXPECT_EQ(flag.code, 2);
}

TEST(TemplateCli, TemplateErrorsAreInputErrors) {
  // The Qwen template raises on an empty conversation (messages[0] is undefined).
  Result r = run_r1("template -m " + model("qwen2.5"), R"({"messages": []})");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("chat template line"), std::string::npos) << r.err;
}

}  // namespace
