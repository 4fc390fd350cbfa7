// Byte-for-byte parity with Python's jinja2 as Hugging Face configures it: the goldens are
// rendered by tools/reference/chat_goldens.py from the committed conversations and snippets.
// Chat renders use keep_system=true (raw template semantics, no R1 conventions).
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/template/chat_template.h"

namespace r1::tmpl {
namespace {

using ojson = nlohmann::ordered_json;

ojson load_json(const std::string& path) {
  return ojson::parse(read_file(path));
}
std::string fixture(const std::string& name) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/template/" + name;
}

TEST(TemplateGoldens, ChatTemplatesMatchJinja2) {
  ojson conversations = load_json(fixture("conversations.json"));
  ojson goldens = load_json(fixture("goldens.json"));
  std::map<std::string, ChatTemplate> templates;
  int compared = 0, errors = 0;
  for (const auto& g : goldens["chats"]) {
    std::string name = g["template"];
    if (!templates.count(name)) {
      std::string dir = std::string(R1_TOKENIZERS_DIR) + "/" + name;
      templates.emplace(name, ChatTemplate::load(dir));
    }
    const ojson* conv = nullptr;
    for (const auto& c : conversations)
      if (c["name"] == g["conversation"]) conv = &c;
    ASSERT_NE(conv, nullptr) << g["conversation"];
    ChatOptions opt;
    opt.keep_system = true;
    opt.add_generation_prompt = g["add_generation_prompt"];
    ojson tools = conv->contains("tools") ? (*conv)["tools"] : ojson(nullptr);
    std::string what = name + " / " + std::string(g["conversation"]) +
                       (opt.add_generation_prompt ? " / gen" : " / no gen");
    if (g.contains("error")) {
      EXPECT_THROW(templates.at(name).render((*conv)["messages"], opt, tools), Error) << what;
      ++errors;
    } else {
      std::string out;
      try {
        out = templates.at(name).render((*conv)["messages"], opt, tools);
      } catch (const Error& e) {
        ADD_FAILURE() << what << ": " << e.what();
        continue;
      }
      EXPECT_EQ(out, g["output"].get<std::string>()) << what;
      ++compared;
    }
  }
  EXPECT_EQ(compared + errors, 150);  // 5 templates x 15 conversations x 2
  std::printf("compared %d chat renders and %d expected errors\n", compared, errors);
}

TEST(TemplateGoldens, SnippetsMatchJinja2) {
  ojson snippets = load_json(fixture("snippets.json"));
  ojson goldens = load_json(fixture("goldens.json"));
  ASSERT_EQ(snippets.size(), goldens["snippets"].size());
  for (size_t k = 0; k < snippets.size(); ++k) {
    const auto& s = snippets[k];
    const auto& g = goldens["snippets"][k];
    ASSERT_EQ(s["name"], g["name"]);
    std::vector<std::pair<std::string, Value>> vars;
    for (auto it = s["vars"].begin(); it != s["vars"].end(); ++it)
      vars.emplace_back(it.key(), from_json(it.value()));
    std::string name = s["name"];
    if (g.contains("error")) {
      try {
        std::string out = Template::parse(s["template"].get<std::string>()).render(vars);
        ADD_FAILURE() << name << ": expected an error like " << g["error"] << ", got " << out;
      } catch (const Error& e) {
        std::printf("%s: jinja2: %s\n    r1: %s\n", name.c_str(),
                    g["error"].get<std::string>().c_str(), e.what());
      }
      continue;
    }
    try {
      std::string out = Template::parse(s["template"].get<std::string>()).render(vars);
      EXPECT_EQ(out, g["output"].get<std::string>()) << name;
    } catch (const Error& e) {
      ADD_FAILURE() << name << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace r1::tmpl
