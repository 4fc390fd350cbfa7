// Robustness (docs/DESIGN.md principle 6): random and mutated templates either render or fail with
// an r1::Error; they never crash, hang or overflow the stack.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/template/template.h"

namespace r1::tmpl {
namespace {

std::vector<std::pair<std::string, Value>> fuzz_vars() {
  auto messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
          {"role": "assistant", "content": "A", "tool_calls": [{"type": "function",
           "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "content": "T"}])");
  return {{"messages", from_json(messages)},
          {"add_generation_prompt", Value::boolean(true)},
          {"bos_token", Value::string("<s>")},
          {"tools", Value::none()}};
}

// Returns true when it rendered, false on an r1::Error; anything else fails the test.
bool try_render(const std::string& src) {
  try {
    Template::parse(src).render(fuzz_vars());
    return true;
  } catch (const Error&) {
    return false;
  }
}

TEST(TemplateFuzz, RandomTokenSoup) {
  const std::vector<std::string> pieces = {"{{",
                                           "}}",
                                           "{%",
                                           "%}",
                                           "{#",
                                           "#}",
                                           "-",
                                           "+",
                                           " ",
                                           "\n",
                                           "if",
                                           "elif",
                                           "else",
                                           "endif",
                                           "for",
                                           "in",
                                           "endfor",
                                           "set",
                                           "=",
                                           "ns",
                                           "namespace(",
                                           ")",
                                           "(",
                                           "[",
                                           "]",
                                           "{",
                                           "}",
                                           ",",
                                           ":",
                                           ".",
                                           "|",
                                           "length",
                                           "tojson",
                                           "trim",
                                           "is",
                                           "not",
                                           "none",
                                           "defined",
                                           "and",
                                           "or",
                                           "'a'",
                                           "\"b\"",
                                           "1",
                                           "2.5",
                                           "messages",
                                           "message",
                                           "loop",
                                           "index",
                                           "~",
                                           "*",
                                           "/",
                                           "//",
                                           "%",
                                           "**",
                                           "==",
                                           "!=",
                                           "<",
                                           ">",
                                           "macro",
                                           "endmacro",
                                           "break",
                                           "continue",
                                           "[::-1]",
                                           "x",
                                           "'",
                                           "\\",
                                           "raise_exception(",
                                           "range(",
                                           "items()",
                                           "endset",
                                           "filter",
                                           "upper",
                                           "raw",
                                           "endraw"};
  std::mt19937 rng(1234);
  int rendered = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string src;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) src += pieces[rng() % pieces.size()];
    rendered += try_render(src);
  }
  EXPECT_GT(rendered, 0);
}

TEST(TemplateFuzz, MutatedRealTemplates) {
  std::mt19937 rng(99);
  for (const char* name : {"r1", "qwen2.5", "llama3.1"}) {
    auto config = nlohmann::json::parse(
        read_file(std::string(R1_TOKENIZERS_DIR) + "/" + name + "/tokenizer_config.json"));
    std::string src = config["chat_template"];
    ASSERT_TRUE(try_render(src));
    for (int iter = 0; iter < 1500; ++iter) {
      std::string m = src;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !m.empty(); ++e) {
        size_t pos = rng() % m.size();
        size_t len = 1 + rng() % 8;
        switch (rng() % 3) {
          case 0:
            m.erase(pos, len);
            break;
          case 1:
            m.insert(pos, m.substr(rng() % m.size(), len));
            break;
          default:
            m[pos] = static_cast<char>(rng() % 128);
            break;
        }
      }
      try_render(m);
    }
  }
}

TEST(TemplateFuzz, DeepNestingIsAnErrorNotACrash) {
  EXPECT_FALSE(
      try_render("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}"));
  EXPECT_FALSE(try_render("{{ " + std::string(100000, '[') + " }}"));
  std::string chain = "{{ 1";
  for (int k = 0; k < 100000; ++k) chain += " + 1";
  EXPECT_FALSE(try_render(chain + " }}"));
  std::string nots = "{{ ";
  for (int k = 0; k < 100000; ++k) nots += "not ";
  EXPECT_FALSE(try_render(nots + "1 }}"));
  std::string ifs;
  for (int k = 0; k < 100000; ++k) ifs += "{% if true %}";
  EXPECT_FALSE(try_render(ifs));
  EXPECT_FALSE(try_render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"));
  EXPECT_FALSE(try_render("{{ 2 ** 100 }}"));
  EXPECT_FALSE(try_render("{{ 'ab' * 1000000000000 }}"));
  EXPECT_TRUE(try_render("{{ ((((((((((1)))))))))) + [[[[[[[[1]]]]]]]][0][0][0] | length }}"));
}

}  // namespace
}  // namespace r1::tmpl
