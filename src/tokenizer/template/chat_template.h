// Chat templates from Hugging Face tokenizer_config.json files, rendered as
// tokenizer.apply_chat_template(messages, tools=..., add_generation_prompt=..., tokenize=False)
// does, plus the R1 usage conventions (docs/FACTS.md section 4, docs/DESIGN.md principle 7).
//
// Variables the template sees (as HF passes them): messages, tools (None when absent),
// documents (None), add_generation_prompt, and the tokenizer's special tokens bos_token,
// eos_token, unk_token, sep_token, pad_token, cls_token, mask_token (strings; AddedToken objects
// give their "content"; null tokens are left undefined) and additional_special_tokens; globals
// raise_exception and strftime_now.
//
// R1 conventions (both off when keep_system is set, which renders the template exactly as HF):
// - System folding: every message with role "system" is removed; their
//   contents, joined with "\n\n" in order, plus "\n\n" are prepended to the content of the first
//   user message. With no system message, or no user message to fold into, the messages are used
//   unchanged.
// - Earlier reasoning (R1-family templates, i.e. those containing "<｜Assistant｜>"): the content
//   of every assistant message is cut to the text after its last "</think>", as the published R1
//   templates do (content.split('</think>')[-1]); for templates that already do this it changes
//   nothing, for revisions that do not it keeps old reasoning out of the prompt.
// - Generation prompt: when add_generation_prompt is set and the rendered prompt ends with
//   "<｜Assistant｜>" (an R1-family template of an older revision, whose generation prompt lacks
//   the "<think>\n" that current revisions emit), "<think>\n" is appended. Other templates, and
//   R1 prompts that already end with "<think>\n" or end in a tool output, are unchanged.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/template/template.h"

namespace r1::tmpl {

struct ChatOptions {
  bool add_generation_prompt = true;
  bool keep_system = false;
  nlohmann::json tools = nullptr;  // an array of tool schemas, or null
  // Extra template variables, as keyword arguments of HF's apply_chat_template (vLLM's
  // chat_template_kwargs), e.g. {"enable_thinking": false}; an object or null. They may override
  // the special tokens but not messages, tools, documents or add_generation_prompt.
  nlohmann::json template_vars = nullptr;
};

// Immutable after loading; render() may be called from several threads at once.
class ChatTemplate {
 public:
  // From tokenizer_config.json: chat_template as a string, or a list of {"name", "template"}
  // ("default" is used; "tool_use" when tools are given and it exists, as HF does).
  static ChatTemplate from_config(const nlohmann::json& tokenizer_config);
  static ChatTemplate from_config(const nlohmann::ordered_json& tokenizer_config);
  // Reads model_dir/tokenizer_config.json; model_dir/chat_template.jinja, when present, replaces
  // its chat_template (as transformers does).
  static ChatTemplate load(const std::string& model_dir);

  // nlohmann::json keeps object keys sorted, so tools | tojson prints keys in sorted order; use
  // the ordered_json overload to keep the caller's key order (as Python dicts do).
  std::string render(const nlohmann::json& messages, const ChatOptions& opt) const;
  std::string render(const nlohmann::ordered_json& messages, const ChatOptions& opt,
                     const nlohmann::ordered_json& tools) const;

  // The template source ("default" one when the config holds several).
  const std::string& source() const { return default_source_; }

 private:
  std::string render_values(Value messages, Value tools, const ChatOptions& opt) const;

  std::string default_source_;
  Template default_;
  bool has_tool_use_ = false;
  Template tool_use_;
  std::vector<std::pair<std::string, Value>> special_tokens_;
};

}  // namespace r1::tmpl
