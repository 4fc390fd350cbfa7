// The render budget (budget.h): templates that would run for ever, build gigabytes or overflow
// integers end as one Input error; the real templates on a long conversation stay far inside it.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "tokenizer/template/chat_template.h"
#include "tokenizer/template/template.h"

namespace r1::tmpl {
namespace {

// The Input error a template ends with ("" if it rendered).
std::string render_error(const std::string& src, const RenderLimits& limits = {}) {
  try {
    Template::parse(src).render({}, limits);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input) << e.what();
    return e.what();
  }
  return "";
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(RenderBudget, EndlessLoopsRunOutOfSteps) {
  // 10^10 iterations if nothing stopped them.
  EXPECT_TRUE(has(render_error("{% for a in range(100000) %}{% for b in range(100000) %}"
                               "{% endfor %}{% endfor %}"),
                  "evaluation steps"));
  // A macro that loops inside each call.
  EXPECT_TRUE(has(render_error("{% macro m() %}{% for i in range(100000) %}{{ i }}{% endfor %}"
                               "{% endmacro %}{% for j in range(1000) %}{{ m() }}{% endfor %}"),
                  "chat template"));
  // The limit is what it says: 1000 steps are not enough for 200 loop iterations.
  RenderLimits small;
  small.max_steps = 1000;
  EXPECT_TRUE(has(render_error("{% for i in range(200) %}{% endfor %}", small), "1000 evaluation"));
  EXPECT_EQ(render_error("{% for i in range(20) %}{% endfor %}", small), "");
}

TEST(RenderBudget, GrowingTextRunsOutOfBytes) {
  // ~ doubling a string 40 times would reach a terabyte.
  EXPECT_TRUE(has(render_error("{% set ns = namespace(s='x') %}{% for i in range(40) %}"
                               "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"),
                  "MiB"));
  EXPECT_TRUE(has(render_error("{{ 'x' * 1000000000000 }}"), "MiB"));
  EXPECT_TRUE(has(render_error("{{ [1, 2] * 1000000000000 }}"), "MiB"));
  EXPECT_TRUE(has(render_error("{{ ('a' * 1000000).replace('a', 'b' * 10000) }}"), "MiB"));
  EXPECT_TRUE(has(render_error("{{ range(1000000)|join('x' * 100000) }}"), "MiB"));
  // tojson with a huge indent: the indentation is charged as it is written.
  EXPECT_TRUE(has(render_error("{{ [[[[1]]]]|tojson(indent=1000000000) }}"), "MiB"));
  // Printing a big string many times.
  EXPECT_TRUE(has(render_error("{% set s = 'y' * 10000000 %}{% for i in range(1000) %}{{ s }}"
                               "{% endfor %}"),
                  "MiB"));
  RenderLimits small;
  small.max_bytes = 1 << 20;
  EXPECT_TRUE(has(render_error("{{ 'x' * 2000000 }}", small), "1 MiB"));
  EXPECT_EQ(render_error("{{ 'x' * 1000 }}", small), "");
}

TEST(RenderBudget, RangeOfAHugeCountIsRefusedBeforeBuilding) {
  EXPECT_TRUE(has(render_error("{{ range(1000000000000000000)|length }}"), "range() of more"));
  EXPECT_TRUE(has(render_error("{{ range(-9223372036854775807, 9223372036854775807)|length }}"),
                  "range() of more"));
  // Counts and steps at the edges of int64 are exact.
  EXPECT_EQ(
      Template::parse("{{ range(9223372036854775800, 9223372036854775807, 3)|list }}").render({}),
      "[9223372036854775800, 9223372036854775803, 9223372036854775806]");
  EXPECT_EQ(Template::parse("{{ range(0, -5, -2)|list }}{{ range(5, 5)|list }}").render({}),
            "[0, -2, -4][]");
}

TEST(RenderBudget, IntegerConversionsDoNotOverflow) {
  EXPECT_TRUE(has(render_error("{{ (1e999)|int }}"), "cannot convert inf"));
  EXPECT_TRUE(has(render_error("{{ (1e999 - 1e999)|int }}"), "cannot convert nan"));
  EXPECT_TRUE(has(render_error("{{ 1e19|int }}"), "64-bit integer"));
  EXPECT_TRUE(has(render_error("{{ '99999999999999999999'|int }}"), "64-bit integer"));
  EXPECT_TRUE(has(render_error("{{ 99999999999999999999 }}"), "out of range"));
  EXPECT_TRUE(has(render_error("{% set x = [1] %}{{ x.99999999999999999999 }}"), "out of range"));
  EXPECT_TRUE(has(render_error("{{ [[1]]|map(attribute='0.99999999999999999999')|list }}"),
                  "out of range"));
  EXPECT_TRUE(has(render_error("{{ '{99999999999999999999}'.format(1) }}"), "out of range"));
  // In range they convert as Python does.
  EXPECT_EQ(Template::parse("{{ (-2.7)|int }} {{ '-9223372036854775808'|int }} {{ ' 12 '|int }} "
                            "{{ '1e3'|int }} {{ 'x'|int(7) }}")
                .render({}),
            "-2 -9223372036854775808 12 1000 7");
}

TEST(RenderBudget, RealTemplatesRenderLongConversations) {
  // 1,000 turns of 1 KB each through every real template: far inside the default budget.
  nlohmann::json m = nlohmann::json::array();
  const std::string text(1000, 'w');
  for (int i = 0; i < 500; ++i) {
    m.push_back({{"role", "user"}, {"content", text}});
    m.push_back({{"role", "assistant"}, {"content", text}});
  }
  m.push_back({{"role", "user"}, {"content", "last"}});
  for (const char* name : {"r1", "r1-distill-qwen", "deepseek-v3", "qwen2.5", "llama3.1"}) {
    ChatTemplate t = ChatTemplate::load(std::string(R1_TOKENIZERS_DIR) + "/" + name);
    const std::string out = t.render(m, ChatOptions{});
    EXPECT_GT(out.size(), 1000u * 1000u) << name;
  }
}

}  // namespace
}  // namespace r1::tmpl
