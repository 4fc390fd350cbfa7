// r1 template: renders a conversation with the model folder's chat template
// (tokenizer_config.json), with the R1 conventions of tokenizer/template/chat_template.h unless
// --keep-system asks for the template exactly as Hugging Face renders it.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/model_dir.h"
#include "core/error.h"
#include "tokenizer/template/chat_template.h"

namespace r1::cli {
namespace {

using ojson = nlohmann::ordered_json;

int run_template(Args& args) {
  std::string dir = resolve_model_dir(args.take("--model", "-m"));
  tmpl::ChatOptions opt;
  opt.keep_system = args.take_bool("--keep-system");
  bool no_gen = args.take_bool("--no-generation-prompt");
  args.finish();

  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  ojson request;
  try {
    request = ojson::parse(input);
  } catch (const nlohmann::json::exception& e) {
    fail_input("stdin: invalid JSON: ", e.what());
  }
  if (!request.is_object()) fail_input("stdin: expected a JSON object with \"messages\"");
  if (!request.contains("messages")) fail_input("stdin: missing field \"messages\"");
  if (!request["messages"].is_array()) fail_input("stdin: \"messages\" must be an array");
  for (const auto& m : request["messages"])
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      fail_input("stdin: every message must be an object with a string \"role\"");
  opt.add_generation_prompt = true;
  if (request.contains("add_generation_prompt")) {
    if (!request["add_generation_prompt"].is_boolean())
      fail_input("stdin: \"add_generation_prompt\" must be true or false");
    opt.add_generation_prompt = request["add_generation_prompt"].get<bool>();
  }
  if (no_gen) opt.add_generation_prompt = false;
  ojson tools = request.contains("tools") ? request["tools"] : ojson(nullptr);
  if (!tools.is_null() && !tools.is_array()) fail_input("stdin: \"tools\" must be an array");
  if (request.contains("chat_template_kwargs")) {
    if (!request["chat_template_kwargs"].is_object())
      fail_input("stdin: \"chat_template_kwargs\" must be an object");
    opt.template_vars = nlohmann::json::parse(request["chat_template_kwargs"].dump());
  }

  tmpl::ChatTemplate chat = tmpl::ChatTemplate::load(dir);
  std::string prompt = chat.render(request["messages"], opt, tools);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

R1_COMMAND({"template",
            "render a conversation with the model's chat template",
            "r1 template -m DIR [--keep-system] [--no-generation-prompt]\n"
            "  stdin: {\"messages\": [...], \"add_generation_prompt\": true, \"tools\": [...],\n"
            "         \"chat_template_kwargs\": {...}}  (the last: extra template variables)\n"
            "  stdout: the rendered prompt, byte for byte (no newline added)\n"
            "  -m DIR                   model folder (tokenizer_config.json is enough)\n"
            "  --keep-system            render the template exactly as given (no folding of the\n"
            "                           system prompt into the first user turn, no \"<think>\\n\"\n"
            "                           added after an older R1 template's generation prompt)\n"
            "  --no-generation-prompt   same as \"add_generation_prompt\": false\n",
            {"--keep-system", "--no-generation-prompt"},
            run_template});

}  // namespace
}  // namespace r1::cli
