// The R1 conventions of ChatTemplate (system folding, "<think>\n" generation prompt) and the
// loading rules (chat_template lists, special tokens, errors). Raw template parity is in
// golden_test.cc.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "../common/temp_path.h"
#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/template/chat_template.h"

namespace r1::tmpl {
namespace {

using json = nlohmann::json;

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kUser = "<｜User｜>";
const std::string kAssistant = "<｜Assistant｜>";

std::string tokenizer_dir(const std::string& name) {
  return std::string(R1_TOKENIZERS_DIR) + "/" + name;
}

json conv(std::initializer_list<std::pair<const char*, const char*>> turns) {
  json m = json::array();
  for (const auto& t : turns) m.push_back({{"role", t.first}, {"content", t.second}});
  return m;
}

TEST(ChatTemplate, FoldsSystemIntoFirstUserTurn) {
  ChatTemplate t = ChatTemplate::load(tokenizer_dir("r1"));
  json m = conv({{"system", "You are helpful."}, {"user", "Hello"}});
  EXPECT_EQ(t.render(m, ChatOptions{}),
            kBos + kUser + "You are helpful.\n\nHello" + kAssistant + "<think>\n");
  ChatOptions raw;
  raw.keep_system = true;
  EXPECT_EQ(t.render(m, raw),
            kBos + "You are helpful." + kUser + "Hello" + kAssistant + "<think>\n");
}

TEST(ChatTemplate, FoldJoinsSeveralSystemMessagesAndOnlyTouchesFirstUser) {
  ChatTemplate t = ChatTemplate::load(tokenizer_dir("r1-distill-qwen"));
  json m =
      conv({{"user", "Q1"}, {"system", "A"}, {"assistant", "R1"}, {"system", "B"}, {"user", "Q2"}});
  EXPECT_EQ(t.render(m, ChatOptions{}), kBos + kUser + "A\n\nB\n\nQ1" + kAssistant + "R1" +
                                            "<｜end▁of▁sentence｜>" + kUser + "Q2" + kAssistant +
                                            "<think>\n");
}

TEST(ChatTemplate, FoldLeavesMessagesWithoutUserTurnAlone) {
  ChatTemplate t = ChatTemplate::load(tokenizer_dir("r1"));
  json m = conv({{"system", "Only system"}});
  ChatOptions raw;
  raw.keep_system = true;
  EXPECT_EQ(t.render(m, ChatOptions{}), t.render(m, raw));
}

TEST(ChatTemplate, FoldEqualsRawRenderOfFoldedMessages) {
  for (const char* name : {"r1", "r1-distill-qwen", "deepseek-v3", "llama3.1", "qwen2.5"}) {
    ChatTemplate t = ChatTemplate::load(tokenizer_dir(name));
    json with_system = conv({{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}});
    json folded = conv({{"user", "S\n\nU"}, {"assistant", "A"}, {"user", "V"}});
    ChatOptions raw;
    raw.keep_system = true;
    raw.add_generation_prompt = false;
    ChatOptions conv_opt;
    conv_opt.add_generation_prompt = false;
    EXPECT_EQ(t.render(with_system, conv_opt), t.render(folded, raw)) << name;
  }
}

TEST(ChatTemplate, OldR1TemplateGetsThinkAppended) {
  // deepseek-v3's template is the R1 template of older revisions: its generation prompt is
  // "<｜Assistant｜>" only.
  ChatTemplate t = ChatTemplate::load(tokenizer_dir("deepseek-v3"));
  json m = conv({{"user", "Hi"}});
  EXPECT_EQ(t.render(m, ChatOptions{}), kBos + kUser + "Hi" + kAssistant + "<think>\n");
  ChatOptions raw;
  raw.keep_system = true;
  EXPECT_EQ(t.render(m, raw), kBos + kUser + "Hi" + kAssistant);
  ChatOptions no_gen;
  no_gen.add_generation_prompt = false;
  EXPECT_EQ(t.render(m, no_gen), kBos + kUser + "Hi");
}

TEST(ChatTemplate, ThinkIsNotDoubledNorAddedAfterToolOutputs) {
  ChatTemplate r1 = ChatTemplate::load(tokenizer_dir("r1"));
  std::string out = r1.render(conv({{"user", "Hi"}}), ChatOptions{});
  EXPECT_EQ(out, kBos + kUser + "Hi" + kAssistant + "<think>\n");
  json tool = json::parse(R"([{"role": "user", "content": "w?"},
    {"role": "assistant", "content": null, "tool_calls": [{"type": "function",
      "function": {"name": "f", "arguments": "{}"}}]},
    {"role": "tool", "content": "21"}])");
  ChatTemplate v3 = ChatTemplate::load(tokenizer_dir("deepseek-v3"));
  std::string t = v3.render(tool, ChatOptions{});
  EXPECT_EQ(t.substr(t.size() - std::string("<｜tool▁outputs▁end｜>").size()),
            "<｜tool▁outputs▁end｜>");
}

TEST(ChatTemplate, OtherFamiliesKeepTheirGenerationPrompt) {
  json m = conv({{"user", "Hi"}});
  EXPECT_EQ(ChatTemplate::load(tokenizer_dir("qwen2.5")).render(m, ChatOptions{}),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ChatTemplate::load(tokenizer_dir("llama3.1")).render(m, ChatOptions{}),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, ToolsReachTheTemplate) {
  json tools =
      json::parse(R"([{"type": "function", "function": {"name": "f", "parameters": {}}}])");
  ChatOptions opt;
  opt.tools = tools;
  std::string out =
      ChatTemplate::load(tokenizer_dir("qwen2.5")).render(conv({{"user", "Hi"}}), opt);
  EXPECT_NE(out.find("<tools>\n{\"function\": {\"name\": \"f\", \"parameters\": {}}, \"type\": "
                     "\"function\"}\n</tools>"),
            std::string::npos)
      << out;
}

TEST(ChatTemplate, NamedTemplateListsAndAddedTokenObjects) {
  json config = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}},
                 {"eos_token", "</s>"},
                 {"chat_template",
                  {{{"name", "default"}, {"template", "{{ bos_token }}D{{ eos_token }}"}},
                   {{"name", "tool_use"}, {"template", "T{{ tools | length }}"}}}}};
  ChatTemplate t = ChatTemplate::from_config(config);
  ChatOptions opt;
  EXPECT_EQ(t.render(json::array(), opt), "<s>D</s>");
  opt.tools = json::array({json::object()});
  EXPECT_EQ(t.render(json::array(), opt), "T1");
}

TEST(ChatTemplate, ChatTemplateJinjaFileTakesPrecedence) {
  const std::string dir = r1::testing::fresh_temp_dir("r1_chat_template_jinja_");
  write_file_atomic(dir + "/chat_template.jinja", "[{{ bos_token }}{{ messages[0].content }}]\n");
  EXPECT_EQ(ChatTemplate::load(dir).render(conv({{"user", "x"}}), ChatOptions{}), "[x]");
  write_file_atomic(dir + "/tokenizer_config.json",
                    R"({"bos_token": "<s>", "chat_template": "ignored"})");
  EXPECT_EQ(ChatTemplate::load(dir).render(conv({{"user", "x"}}), ChatOptions{}), "[<s>x]");
  std::remove((dir + "/chat_template.jinja").c_str());
  EXPECT_EQ(ChatTemplate::load(dir).render(conv({{"user", "x"}}), ChatOptions{}), "ignored");
  std::remove((dir + "/tokenizer_config.json").c_str());
  EXPECT_THROW(ChatTemplate::load(dir), Error);
}

TEST(ChatTemplate, ErrorsNameTheProblem) {
  auto message = [](const json& config) {
    try {
      ChatTemplate::from_config(config).render(json::array(), ChatOptions{});
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(json::object()).find("no chat_template"), std::string::npos);
  EXPECT_NE(message({{"chat_template", "a\n{% include 'x' %}"}})
                .find("line 2: unsupported statement 'include'"),
            std::string::npos);
  EXPECT_NE(
      message({{"chat_template", "{{ x | frobnicate }}"}}).find("unknown filter 'frobnicate'"),
      std::string::npos);
  EXPECT_NE(message({{"chat_template", "\n\n{{ raise_exception('roles must alternate') }}"}})
                .find("roles must alternate"),
            std::string::npos);
  EXPECT_NE(message({{"chat_template", "{% if x %}"}}).find("missing {% endif %}"),
            std::string::npos);
  EXPECT_THROW(ChatTemplate::load("/nonexistent/dir"), Error);
}

TEST(ChatTemplate, EarlierReasoningIsDroppedForR1Templates) {
  json m = conv({{"user", "Q1"}, {"assistant", "<think>\nr\n</think>\n\nA1"}, {"user", "Q2"}});
  std::string want = kBos + kUser + "Q1" + kAssistant + "\n\nA1<｜end▁of▁sentence｜>" + kUser +
                     "Q2" + kAssistant + "<think>\n";
  for (const char* name : {"r1", "r1-distill-qwen", "deepseek-v3"})
    EXPECT_EQ(ChatTemplate::load(tokenizer_dir(name)).render(m, ChatOptions{}), want) << name;
  ChatOptions raw;
  raw.keep_system = true;
  EXPECT_NE(ChatTemplate::load(tokenizer_dir("r1")).render(m, raw).find("<think>\nr\n</think>"),
            std::string::npos);
  // Other families get the conversation as given (Qwen's template handles reasoning itself).
  ChatTemplate qwen = ChatTemplate::load(tokenizer_dir("qwen2.5"));
  EXPECT_EQ(qwen.render(m, ChatOptions{}), qwen.render(m, raw));
}

TEST(ChatTemplate, ExtraTemplateVariables) {
  ChatTemplate qwen = ChatTemplate::load(tokenizer_dir("qwen2.5"));
  ChatOptions opt;
  opt.template_vars = {{"enable_thinking", false}};
  EXPECT_EQ(qwen.render(conv({{"user", "Hi"}}), opt),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  opt.template_vars = {{"messages", 1}};
  EXPECT_THROW(qwen.render(conv({{"user", "Hi"}}), opt), Error);
}

}  // namespace
}  // namespace r1::tmpl
