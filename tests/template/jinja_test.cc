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

TEST(Jinja, Basics) {
  EXPECT_EQ(render("a{{ 1 + 2 }}b"), "a3b");
}

}  // namespace
}  // namespace r1::tmpl
