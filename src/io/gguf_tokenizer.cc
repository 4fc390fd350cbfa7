#include "io/gguf_tokenizer.h"

#include "core/error.h"

namespace r1::io {

using nlohmann::json;

namespace {

// The Split regexes of the byte-level BPE pre-tokenizers llama.cpp names (from the tokenizer.json
// files of Qwen2.5 / R1-Distill-Qwen, Llama 3.1 and DeepSeek-V3 / R1, tests/fixtures).
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kDeepseekDigits = R"(\p{N}{1,3})";
const char* const kDeepseekCjk = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
const char* const kDeepseekMain =
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

void collect_splits(const json& pre, std::vector<std::string>& out) {
  if (!pre.is_object()) return;
  std::string type = pre.value("type", "");
  if (type == "Sequence" && pre.contains("pretokenizers")) {
    for (const json& p : pre["pretokenizers"]) collect_splits(p, out);
  } else if (type == "Split" && pre.contains("pattern") && pre["pattern"].is_object() &&
             pre["pattern"].contains("Regex") && pre["pattern"]["Regex"].is_string()) {
    out.push_back(pre["pattern"]["Regex"].get<std::string>());
  }
}

int64_t token_id(const json& vocab, const std::vector<std::pair<std::string, int64_t>>& added,
                 const json& name) {
  std::string s;
  if (name.is_string()) s = name.get<std::string>();
  if (name.is_object() && name.contains("content") && name["content"].is_string())
    s = name["content"].get<std::string>();
  if (s.empty()) return -1;
  for (const auto& [content, id] : added)
    if (content == s) return id;
  if (vocab.contains(s)) return vocab[s].get<int64_t>();
  return -1;
}

}  // namespace

std::string gguf_pre_tokenizer_name(const json& tokenizer_json, const std::string& where) {
  std::vector<std::string> splits;
  if (tokenizer_json.contains("pre_tokenizer"))
    collect_splits(tokenizer_json["pre_tokenizer"], splits);
  if (splits == std::vector<std::string>{kQwen2}) return "qwen2";
  if (splits == std::vector<std::string>{kLlama3}) return "llama-bpe";
  if (splits == std::vector<std::string>{kDeepseekDigits, kDeepseekCjk, kDeepseekMain})
    return "deepseek-v3";
  fail_input(where,
             ": its pre-tokenizer is none of those llama.cpp names that r1 knows "
             "(qwen2, llama-bpe, deepseek-v3), so a GGUF file could not say how to split text");
}

std::vector<std::pair<std::string, GgufValue>> gguf_tokenizer_metadata(const json& tok,
                                                                       const json& config,
                                                                       int64_t vocab_size,
                                                                       const std::string& where) {
  const json& model = tok.contains("model") ? tok["model"] : json();
  if (!model.is_object() || model.value("type", "") != "BPE" || !model.contains("vocab") ||
      !model["vocab"].is_object() || !model.contains("merges") || !model["merges"].is_array())
    fail_input(where, ": a GGUF file needs a byte-level BPE tokenizer (model.type BPE)");
  const json& vocab = model["vocab"];
  std::vector<std::pair<std::string, int64_t>> added;
  std::vector<bool> special;
  if (tok.contains("added_tokens"))
    for (const json& a : tok["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string())
        fail_input(where, ": an added token without an integer id and a string content");
      added.emplace_back(a["content"].get<std::string>(), a["id"].get<int64_t>());
      special.push_back(a.contains("special") && a["special"].is_boolean() &&
                        a["special"].get<bool>());
    }
  std::vector<std::string> tokens(static_cast<size_t>(vocab_size));
  std::vector<int64_t> types(static_cast<size_t>(vocab_size), 0);
  auto place = [&](const std::string& content, int64_t id, int64_t type) {
    if (id < 0 || id >= vocab_size)
      fail_input(where, ": token ", content, " has id ", id, " outside the vocabulary of ",
                 vocab_size);
    tokens[static_cast<size_t>(id)] = content;
    types[static_cast<size_t>(id)] = type;
  };
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer())
      fail_input(where, ": vocabulary entry ", it.key(), " has no integer id");
    place(it.key(), it.value().get<int64_t>(), 1);
  }
  for (size_t k = 0; k < added.size(); ++k)
    place(added[k].first, added[k].second, special[k] ? 3 : 4);
  for (int64_t id = 0; id < vocab_size; ++id) {
    if (types[static_cast<size_t>(id)] != 0) continue;
    tokens[static_cast<size_t>(id)] = "[PAD" + std::to_string(id) + "]";  // as llama.cpp pads
    types[static_cast<size_t>(id)] = 5;
  }
  std::vector<std::string> merges;
  for (const json& m : model["merges"]) {
    if (m.is_string()) {
      merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      fail_input(where, ": a merge is neither \"a b\" nor [a, b]");
    }
  }
  std::vector<std::pair<std::string, GgufValue>> meta = {
      {"tokenizer.ggml.model", GgufValue::of_string("gpt2")},
      {"tokenizer.ggml.pre", GgufValue::of_string(gguf_pre_tokenizer_name(tok, where))},
      {"tokenizer.ggml.tokens", GgufValue::of_strings(std::move(tokens))},
      {"tokenizer.ggml.token_type", GgufValue::of_ints(GgufType::I32, std::move(types))},
      {"tokenizer.ggml.merges", GgufValue::of_strings(std::move(merges))}};
  const json empty = json::object();
  const json& cfg = config.is_object() ? config : empty;
  for (auto [key, field] :
       {std::pair<const char*, const char*>{"tokenizer.ggml.bos_token_id", "bos_token"},
        {"tokenizer.ggml.eos_token_id", "eos_token"},
        {"tokenizer.ggml.padding_token_id", "pad_token"}}) {
    if (!cfg.contains(field)) continue;
    int64_t id = token_id(vocab, added, cfg[field]);
    if (id >= 0) meta.emplace_back(key, GgufValue::of_int(GgufType::U32, id));
  }
  for (auto [key, field] :
       {std::pair<const char*, const char*>{"tokenizer.ggml.add_bos_token", "add_bos_token"},
        {"tokenizer.ggml.add_eos_token", "add_eos_token"}})
    if (cfg.contains(field) && cfg[field].is_boolean())
      meta.emplace_back(key, GgufValue::of_bool(cfg[field].get<bool>()));
  if (cfg.contains("chat_template") && cfg["chat_template"].is_string())
    meta.emplace_back("tokenizer.chat_template",
                      GgufValue::of_string(cfg["chat_template"].get<std::string>()));
  return meta;
}

namespace {

json byte_level(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", trim_offsets},
          {"use_regex", use_regex}};
}

json split(const std::string& regex) {
  return {{"type", "Split"},
          {"pattern", {{"Regex", regex}}},
          {"behavior", "Isolated"},
          {"invert", false}};
}

}  // namespace

std::pair<json, json> gguf_tokenizer_files(const GgufFile& g) {
  const std::string& where = g.path();
  if (g.get_string("tokenizer.ggml.model") != "gpt2")
    fail_input(where, ": tokenizer.ggml.model is \"", g.get_string("tokenizer.ggml.model"),
               "\"; r1 reads byte-level BPE (gpt2) tokenizers");
  const std::string pre = g.find("tokenizer.ggml.pre") ? g.get_string("tokenizer.ggml.pre") : "";
  json pre_tokenizer, normalizer = nullptr, decoder = byte_level(true, true, true);
  bool ignore_merges = false;
  if (pre == "qwen2") {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", {split(kQwen2), byte_level(false, false, false)}}};
    normalizer = {{"type", "NFC"}};
    decoder = byte_level(false, false, false);
  } else if (pre == "llama-bpe") {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", {split(kLlama3), byte_level(false, true, false)}}};
    ignore_merges = true;
  } else if (pre == "deepseek-v3") {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers",
                      {split(kDeepseekDigits), split(kDeepseekCjk), split(kDeepseekMain),
                       byte_level(false, true, false)}}};
  } else {
    fail_input(where, ": tokenizer.ggml.pre \"", pre,
               "\" is none of the pre-tokenizers r1 knows (qwen2, llama-bpe, deepseek-v3)");
  }
  const GgufValue* tokens = g.find("tokenizer.ggml.tokens");
  const GgufValue* types = g.find("tokenizer.ggml.token_type");
  const GgufValue* merges = g.find("tokenizer.ggml.merges");
  if (!tokens || tokens->type != GgufType::Array || tokens->elem != GgufType::String || !merges ||
      merges->elem != GgufType::String)
    fail_input(where, ": tokenizer.ggml.tokens and .merges must be arrays of strings");
  if (types && types->ints.size() != tokens->strings.size())
    fail_input(where, ": tokenizer.ggml.token_type has ", types->ints.size(), " entries for ",
               tokens->strings.size(), " tokens");
  json vocab = json::object(), added = json::array();
  for (size_t id = 0; id < tokens->strings.size(); ++id) {
    int64_t type = types ? types->ints[id] : 1;
    const std::string& t = tokens->strings[id];
    if (type == 5) continue;  // unused (padding of the vocabulary)
    if (type == 3 || type == 4) {
      added.push_back({{"id", id},
                       {"content", t},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", type == 3}});
    } else {
      vocab[t] = id;
    }
  }
  json model = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", ignore_merges},
                {"vocab", vocab},
                {"merges", merges->strings}};
  json tokenizer = {{"version", "1.0"},
                    {"truncation", nullptr},
                    {"padding", nullptr},
                    {"added_tokens", added},
                    {"normalizer", normalizer},
                    {"pre_tokenizer", pre_tokenizer},
                    {"post_processor", byte_level(false, false, false)},
                    {"decoder", decoder},
                    {"model", model}};
  auto token_at = [&](const char* key) -> json {
    const GgufValue* v = g.find(key);
    if (!v || v->i < 0 || static_cast<size_t>(v->i) >= tokens->strings.size()) return nullptr;
    return tokens->strings[static_cast<size_t>(v->i)];
  };
  const GgufValue* add_bos = g.find("tokenizer.ggml.add_bos_token");
  const GgufValue* add_eos = g.find("tokenizer.ggml.add_eos_token");
  bool bos = add_bos && add_bos->i != 0, eos = add_eos && add_eos->i != 0;
  json config = {
      {"add_bos_token", bos},
      {"add_eos_token", eos},
      {"bos_token", token_at("tokenizer.ggml.bos_token_id")},
      {"eos_token", token_at("tokenizer.ggml.eos_token_id")},
      {"pad_token", token_at("tokenizer.ggml.padding_token_id")},
      {"clean_up_tokenization_spaces", false},
      // transformers' Llama class adds BOS/EOS as add_bos_token says; r1 does the same
      {"tokenizer_class", bos || eos ? "LlamaTokenizerFast" : "PreTrainedTokenizerFast"}};
  if (const GgufValue* t = g.find("tokenizer.chat_template"); t && t->type == GgufType::String)
    config["chat_template"] = t->s;
  return {tokenizer, config};
}

}  // namespace r1::io
