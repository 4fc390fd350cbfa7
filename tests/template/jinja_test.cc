// Unit tests of the Jinja2 interpreter on small templates; expected strings were checked with
// Python's jinja2 (trim_blocks=True, lstrip_blocks=True).
#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/template/template.h"

namespace r1::tmpl {
namespace {

std::string render(const std::string& src,
                   const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  std::vector<std::pair<std::string, Value>> v;
  for (auto it = vars.begin(); it != vars.end(); ++it)
    v.emplace_back(it.key(), from_json(it.value()));
  return Template::parse(src).render(v);
}

std::string error_of(const std::string& src) {
  try {
    render(src);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    return e.what();
  }
  return "no error";
}

TEST(Jinja, Basics) {
  EXPECT_EQ(render("a{{ 1 + 2 }}b"), "a3b");
  EXPECT_EQ(render("{{ x }}", {{"x", "v"}}), "v");
}

// HF's AssistantTracker extension: {% generation %} renders its body in place.
TEST(Jinja, GenerationBlockRendersItsBody) {
  EXPECT_EQ(render("a{% generation %}b{{ 1 }}{% endgeneration %}c"), "ab1c");
}

TEST(Jinja, StrftimeNowFormatsTheCurrentDate) {
  std::string year = render("{{ strftime_now('%Y') }}");
  ASSERT_EQ(year.size(), 4u);
  EXPECT_GE(std::stoi(year), 2024);
}

TEST(Jinja, ErrorsNameTheConstructAndLine) {
  EXPECT_NE(error_of("a\nb\n{{ x | nosuch }}").find("line 3: unknown filter 'nosuch'"),
            std::string::npos);
  EXPECT_NE(error_of("\n{% if x is nosuch %}{% endif %}").find("line 2: unknown test 'nosuch'"),
            std::string::npos);
  EXPECT_NE(error_of("{% extends 'base' %}").find("unsupported statement 'extends'"),
            std::string::npos);
  EXPECT_NE(error_of("\n{% raw %}x{% endraw").find("line 2: missing {% endraw %}"),
            std::string::npos);
  EXPECT_NE(error_of("{% for x in y recursive %}{% endfor %}").find("recursive"),
            std::string::npos);
  EXPECT_NE(error_of("\n\n{{ 'a'.nosuchmethod(1) }}").find("line 3"), std::string::npos);
  EXPECT_NE(error_of("{{ '%(a)s' % 1 }}").find("unsupported format"), std::string::npos);
  EXPECT_NE(error_of("{{ '{:>5}'.format(1) }}").find("not supported"), std::string::npos);
  EXPECT_NE(error_of("{% for a, b in [[1]] %}{% endfor %}").find("cannot unpack"),
            std::string::npos);
  EXPECT_NE(error_of("{% set x = 1 %}{% set x.y = 2 %}").find("not a namespace"),
            std::string::npos);
  EXPECT_NE(error_of("{% macro f(a) %}{% endmacro %}{{ f(b=1) }}").find("no keyword argument 'b'"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 1 / 0 }}").find("division by zero"), std::string::npos);
  EXPECT_NE(error_of("{{ 'abc").find("unterminated string"), std::string::npos);
  EXPECT_NE(error_of("{{ 1 ").find("unclosed"), std::string::npos);
  EXPECT_NE(error_of("{% for x in y %}").find("missing {% endfor %}"), std::string::npos);
}

TEST(Jinja, ValuesFromJsonKeepKeyOrder) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(R"({"z": 1, "a": [1.5, "x", null]})");
  EXPECT_EQ(render("{{ v | tojson }}", {{"v", j}}), R"({"z": 1, "a": [1.5, "x", null]})");
  EXPECT_EQ(float_repr(1e16), "1e+16");
  EXPECT_EQ(float_repr(123456789.125), "123456789.125");
  EXPECT_EQ(float_repr(5e-324), "5e-324");
  EXPECT_EQ(float_repr(-2.5e-5), "-2.5e-05");
}

}  // namespace
}  // namespace r1::tmpl
