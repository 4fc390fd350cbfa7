// r1 tokenize: text -> token ids with the model folder's tokenizer.json. Without --jsonl the whole
// of stdin, byte for byte (a trailing newline is text too), becomes one JSON array of ids. With
// --jsonl each non-empty input line is {"text": ...} or {"messages": [...]} and each output line
// is {"ids": [...]}; messages are rendered with the chat template (R1 conventions, generation
// prompt unless the line says "add_generation_prompt": false, "tools" and
// "chat_template_kwargs" passed through) and then
// encoded without adding special tokens, since the template already wrote them.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/command.h"
#include "cli/model_dir.h"
#include "core/error.h"
#include "tokenizer/template/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace r1::cli {
namespace {

using ojson = nlohmann::ordered_json;

std::string ids_json(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t k = 0; k < ids.size(); ++k) {
    if (k > 0) out += ',';
    out += std::to_string(ids[k]);
  }
  return out + "]";
}

std::vector<int32_t> encode_line(const std::string& line, const std::string& where,
                                 const tok::Tokenizer& tokenizer, const std::string& dir,
                                 std::optional<tmpl::ChatTemplate>& chat, bool add_special) {
  ojson j;
  try {
    j = ojson::parse(line);
  } catch (const nlohmann::json::exception& e) {
    fail_input(where, ": invalid JSON: ", e.what());
  }
  if (!j.is_object()) fail_input(where, ": expected an object with \"text\" or \"messages\"");
  if (j.contains("text")) {
    if (!j["text"].is_string()) fail_input(where, ": \"text\" must be a string");
    return tokenizer.encode(j["text"].get<std::string>(), add_special);
  }
  if (!j.contains("messages")) fail_input(where, ": expected \"text\" or \"messages\"");
  if (!j["messages"].is_array()) fail_input(where, ": \"messages\" must be an array");
  tmpl::ChatOptions opt;
  if (j.contains("add_generation_prompt")) {
    if (!j["add_generation_prompt"].is_boolean())
      fail_input(where, ": \"add_generation_prompt\" must be true or false");
    opt.add_generation_prompt = j["add_generation_prompt"].get<bool>();
  }
  ojson tools = j.contains("tools") ? j["tools"] : ojson(nullptr);
  if (!tools.is_null() && !tools.is_array()) fail_input(where, ": \"tools\" must be an array");
  if (j.contains("chat_template_kwargs")) {
    if (!j["chat_template_kwargs"].is_object())
      fail_input(where, ": \"chat_template_kwargs\" must be an object");
    opt.template_vars = nlohmann::json::parse(j["chat_template_kwargs"].dump());
  }
  if (!chat) chat = tmpl::ChatTemplate::load(dir);
  std::string prompt;
  try {
    prompt = chat->render(j["messages"], opt, tools);
  } catch (const Error& e) {
    fail_input(where, ": ", e.what());
  }
  return tokenizer.encode(prompt, false);
}

int run_tokenize(Args& args) {
  std::string dir = resolve_model_dir(args.take("--model", "-m"));
  bool jsonl = args.take_bool("--jsonl");
  bool add_special = args.take_bool("--add-special-tokens");
  args.finish();
  tok::Tokenizer tokenizer = tok::Tokenizer::load(dir);

  if (!jsonl) {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    std::string out = ids_json(tokenizer.encode(text, add_special)) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::optional<tmpl::ChatTemplate> chat;
  std::string line;
  for (int64_t n = 1; std::getline(std::cin, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<int32_t> ids =
        encode_line(line, "stdin line " + std::to_string(n), tokenizer, dir, chat, add_special);
    std::string out = "{\"ids\":" + ids_json(ids) + "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

R1_COMMAND({"tokenize",
            "text or conversations -> token ids",
            "r1 tokenize -m DIR [--jsonl] [--add-special-tokens]\n"
            "  stdin: text (all of it, byte for byte) -> stdout: a JSON array of ids\n"
            "  --jsonl                each input line {\"text\": ...} or {\"messages\": [...]}\n"
            "                         -> each output line {\"ids\": [...]}; messages are rendered\n"
            "                         with the chat template and encoded without special tokens\n"
            "  --add-special-tokens   apply the tokenizer's post-processor (e.g. BOS) to text\n"
            "  -m DIR                 model folder (tokenizer.json [+ tokenizer_config.json])\n",
            {"--jsonl", "--add-special-tokens"},
            run_tokenize});

}  // namespace
}  // namespace r1::cli
