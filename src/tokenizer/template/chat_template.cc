#include "tokenizer/template/chat_template.h"

#include "core/error.h"
#include "core/file_util.h"

namespace r1::tmpl {

namespace {

const char* const kAssistantTag =
    "<\xEF\xBD\x9C"
    "Assistant\xEF\xBD\x9C>";  // <｜Assistant｜>
const char* const kThinkOpen = "<think>\n";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Folds system messages into the first user message (see chat_template.h).
Value fold_system(const Value& messages) {
  if (!messages.is_list()) return messages;
  std::string system;
  bool any_system = false;
  int first_user = -1;
  List rest;
  for (const auto& m : *messages.list) {
    const Value* role = m.is_mapping() ? m.dict->find("role") : nullptr;
    if (role && role->is_string() && role->s == "system") {
      const Value* content = m.dict->find("content");
      if (!content || !content->is_string())
        fail_input("system message content must be a string to fold it into the user turn");
      if (any_system) system += "\n\n";
      system += content->s;
      any_system = true;
      continue;
    }
    if (first_user < 0 && role && role->is_string() && role->s == "user")
      first_user = static_cast<int>(rest.size());
    rest.push_back(m);
  }
  if (!any_system || first_user < 0) return messages;
  Value user = Value::make_dict();
  *user.dict = *rest[static_cast<size_t>(first_user)].dict;  // copy: the caller's dict is shared
  const Value* content = user.dict->find("content");
  if (!content || !content->is_string())
    fail_input("the first user message's content must be a string to fold the system prompt in");
  user.dict->set("content", Value::string(system + "\n\n" + content->s));
  rest[static_cast<size_t>(first_user)] = user;
  return Value::make_list(std::move(rest));
}

// R1 drops the reasoning of earlier turns (model card; the published R1 templates do
// content.split('</think>')[-1]); some template revisions do not, so it is done here too.
Value strip_reasoning(const Value& messages) {
  if (!messages.is_list()) return messages;
  List out;
  for (const auto& m : *messages.list) {
    const Value* role = m.is_mapping() ? m.dict->find("role") : nullptr;
    const Value* content = m.is_mapping() ? m.dict->find("content") : nullptr;
    if (role && role->is_string() && role->s == "assistant" && content && content->is_string()) {
      size_t close = content->s.rfind("</think>");
      if (close != std::string::npos) {
        Value copy = Value::make_dict();
        *copy.dict = *m.dict;
        copy.dict->set("content", Value::string(content->s.substr(close + 8)));
        out.push_back(copy);
        continue;
      }
    }
    out.push_back(m);
  }
  return Value::make_list(std::move(out));
}

template <typename J>
void build(const J& config, std::string& source, Template& def, bool& has_tool_use,
           Template& tool_use, std::vector<std::pair<std::string, Value>>& special) {
  if (!config.is_object()) fail_input("tokenizer_config.json: expected a JSON object");
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) fail_input("tokenizer_config.json has no chat_template");
  if (it->is_string()) {
    source = it->template get<std::string>();
  } else if (it->is_array()) {
    bool found = false;
    for (const auto& entry : *it) {
      if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
          !entry["name"].is_string() || !entry["template"].is_string())
        fail_input(
            "tokenizer_config.json: chat_template list entries need string name and template");
      std::string name = entry["name"].template get<std::string>();
      if (name == "default") {
        source = entry["template"].template get<std::string>();
        found = true;
      } else if (name == "tool_use") {
        tool_use = Template::parse(entry["template"].template get<std::string>());
        has_tool_use = true;
      }
    }
    if (!found) fail_input("tokenizer_config.json: chat_template list has no \"default\" template");
  } else {
    fail_input("tokenizer_config.json: chat_template must be a string or a list");
  }
  def = Template::parse(source);
  for (const char* name : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                           "cls_token", "mask_token"}) {
    auto tok = config.find(name);
    if (tok == config.end() || tok->is_null()) continue;
    if (tok->is_string()) {
      special.emplace_back(name, Value::string(tok->template get<std::string>()));
    } else if (tok->is_object() && tok->contains("content") && (*tok)["content"].is_string()) {
      special.emplace_back(name, Value::string((*tok)["content"].template get<std::string>()));
    } else {
      fail_input("tokenizer_config.json: ", name, " must be a string or an AddedToken object");
    }
  }
  auto extra = config.find("additional_special_tokens");
  if (extra != config.end() && extra->is_array()) {
    List l;
    for (const auto& e : *extra) {
      if (e.is_string()) l.push_back(Value::string(e.template get<std::string>()));
      if (e.is_object() && e.contains("content") && e["content"].is_string())
        l.push_back(Value::string(e["content"].template get<std::string>()));
    }
    special.emplace_back("additional_special_tokens", Value::make_list(std::move(l)));
  }
}

}  // namespace

ChatTemplate ChatTemplate::from_config(const nlohmann::json& config) {
  ChatTemplate t;
  build(config, t.default_source_, t.default_, t.has_tool_use_, t.tool_use_, t.special_tokens_);
  return t;
}

ChatTemplate ChatTemplate::from_config(const nlohmann::ordered_json& config) {
  ChatTemplate t;
  build(config, t.default_source_, t.default_, t.has_tool_use_, t.tool_use_, t.special_tokens_);
  return t;
}

ChatTemplate ChatTemplate::load(const std::string& model_dir) {
  std::string path = path_join(model_dir, "tokenizer_config.json");
  std::string jinja_path = path_join(model_dir, "chat_template.jinja");
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  bool has_config = file_exists(path);
  if (has_config || !file_exists(jinja_path)) {
    try {
      config = nlohmann::ordered_json::parse(read_file(path));
    } catch (const nlohmann::json::exception& e) {
      fail_input(path, ": invalid JSON: ", e.what());
    }
  }
  // Newer transformers save the template beside the config as chat_template.jinja, which then
  // takes precedence over tokenizer_config.json's chat_template.
  if (file_exists(jinja_path)) {
    if (!config.is_object()) fail_input(path, ": expected a JSON object");
    config["chat_template"] = read_file(jinja_path);
    path = jinja_path;
  }
  try {
    return from_config(config);
  } catch (const Error& e) {
    fail_input(path, ": ", e.what());
  }
}

std::string ChatTemplate::render(const nlohmann::json& messages, const ChatOptions& opt) const {
  if (!messages.is_array()) fail_input("messages must be a JSON array");
  return render_values(from_json(messages), from_json(opt.tools), opt);
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const ChatOptions& opt,
                                 const nlohmann::ordered_json& tools) const {
  if (!messages.is_array()) fail_input("messages must be a JSON array");
  return render_values(from_json(messages), from_json(tools), opt);
}

std::string ChatTemplate::render_values(Value messages, Value tools, const ChatOptions& opt) const {
  if (!opt.keep_system) messages = fold_system(messages);
  if (!opt.keep_system && default_source_.find(kAssistantTag) != std::string::npos)
    messages = strip_reasoning(messages);
  std::vector<std::pair<std::string, Value>> vars = special_tokens_;
  vars.emplace_back("messages", messages);
  vars.emplace_back("tools", tools);
  vars.emplace_back("documents", Value::none());
  vars.emplace_back("add_generation_prompt", Value::boolean(opt.add_generation_prompt));
  if (!opt.template_vars.is_null()) {
    if (!opt.template_vars.is_object()) fail_input("chat template variables must be a JSON object");
    for (auto it = opt.template_vars.begin(); it != opt.template_vars.end(); ++it) {
      const std::string& key = it.key();
      if (key == "messages" || key == "tools" || key == "documents" ||
          key == "add_generation_prompt")
        fail_input("chat template variable '", key, "' cannot be overridden");
      vars.emplace_back(key, from_json(it.value()));
    }
  }
  bool use_tool_template = has_tool_use_ && tools.truthy();
  std::string out = (use_tool_template ? tool_use_ : default_).render(vars);
  if (opt.add_generation_prompt && !opt.keep_system && ends_with(out, kAssistantTag))
    out += kThinkOpen;
  return out;
}

}  // namespace r1::tmpl
