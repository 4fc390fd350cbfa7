#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/unicode.h"

namespace r1::tok {

struct TokenizerImpl {
  std::string origin;  // the folder or file name, for error messages
  nlohmann::json config = nlohmann::json::object();
  bool nfc = false;
  PreTokenizer pre_tokenizer;
  BpeModel bpe;
  AddedTokenMatcher raw_added;         // added tokens with normalized=false
  AddedTokenMatcher normalized_added;  // added tokens with normalized=true
  Vocab added_ids;                     // content -> id
  std::vector<std::string> id_bytes;   // what each id decodes to (byte-level decoded)
  std::vector<uint8_t> id_known;       // 1 if the id is in the vocab or an added token
  std::vector<uint8_t> id_special;     // 1 for added tokens with special=true
  bool join_with_spaces = false;       // decoder null: Hugging Face joins tokens with " "
  bool clean_up = false;               // tokenizer_config.json clean_up_tokenization_spaces
  std::vector<int32_t> prefix_ids, suffix_ids;  // what add_special_tokens wraps a text in
  int32_t bos = -1, eos = -1;
  int64_t vocab_size = 0;
};

namespace {

bool flag(const nlohmann::json& obj, const char* key, bool fallback) {
  const auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::string type_of(const nlohmann::json& spec, const std::string& where) {
  if (!spec.is_object()) fail_input(where, ": expected an object");
  const auto it = spec.find("type");
  if (it == spec.end() || !it->is_string()) fail_input(where, ".type: expected a string");
  return it->get<std::string>();
}

void parse_normalizer(TokenizerImpl& t, const nlohmann::json& spec, const std::string& where) {
  if (spec.is_null()) return;
  const std::string type = type_of(spec, where);
  if (type == "NFC") {
    t.nfc = true;
  } else if (type == "Sequence") {
    const auto it = spec.find("normalizers");
    if (it == spec.end() || !it->is_array()) fail_input(where, ".normalizers: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      parse_normalizer(t, (*it)[i], cat(where, ".normalizers[", i, "]"));
    }
  } else {
    fail_input(where, ": unsupported normalizer type \"", type, "\"");
  }
}

// The text a content string decodes to under a ByteLevel decoder: each character mapped back to
// its byte when all of them are in the alphabet, else the content's own UTF-8 (decoders.rs).
std::string byte_level_decode(std::string_view token) {
  const ByteLevelAlphabet& alphabet = byte_level_alphabet();
  if (valid_utf8_prefix(token) != token.size()) return std::string(token);
  std::string out;
  out.reserve(token.size());
  for (size_t pos = 0; pos < token.size();) {
    const uint32_t cp = next_code_point(token, pos);
    if (cp >= alphabet.char_to_byte.size() || alphabet.char_to_byte[cp] < 0)
      return std::string(token);
    out += static_cast<char>(alphabet.char_to_byte[cp]);
  }
  return out;
}

// Decoder: null (join with spaces), ByteLevel, or a Sequence of ByteLevel decoders.
void parse_decoder(TokenizerImpl& t, const nlohmann::json& spec, const std::string& where,
                   bool& byte_level) {
  if (spec.is_null()) return;
  const std::string type = type_of(spec, where);
  if (type == "ByteLevel") {
    byte_level = true;
  } else if (type == "Sequence") {
    const auto it = spec.find("decoders");
    if (it == spec.end() || !it->is_array()) fail_input(where, ".decoders: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      parse_decoder(t, (*it)[i], cat(where, ".decoders[", i, "]"), byte_level);
    }
  } else {
    fail_input(where, ": unsupported decoder type \"", type, "\"");
  }
}

int32_t id_of(const TokenizerImpl& t, std::string_view token) {
  const auto it = t.added_ids.find(token);
  return it != t.added_ids.end() ? it->second : t.bpe.find(token);
}

// Post-processor: what encode(add_special_tokens=true) puts around a single text.
void parse_post_processor(TokenizerImpl& t, const nlohmann::json& spec, const std::string& where) {
  if (spec.is_null()) return;
  const std::string type = type_of(spec, where);
  std::vector<int32_t> prefix, suffix;
  if (type == "ByteLevel") {
    return;  // it only adjusts offsets
  } else if (type == "Sequence") {
    const auto it = spec.find("processors");
    if (it == spec.end() || !it->is_array()) fail_input(where, ".processors: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      parse_post_processor(t, (*it)[i], cat(where, ".processors[", i, "]"));
    }
    return;
  } else if (type == "TemplateProcessing") {
    const auto single = spec.find("single");
    const auto specials = spec.find("special_tokens");
    if (single == spec.end() || !single->is_array())
      fail_input(where, ".single: expected an array");
    bool seen_sequence = false;
    for (const auto& piece : *single) {
      if (piece.contains("Sequence")) {
        seen_sequence = true;
      } else if (piece.contains("SpecialToken") && piece["SpecialToken"].contains("id")) {
        const std::string name = piece["SpecialToken"]["id"].get<std::string>();
        if (specials == spec.end() || !specials->contains(name) ||
            !(*specials)[name].contains("ids")) {
          fail_input(where, ".special_tokens: no ids for \"", name, "\"");
        }
        for (const auto& id : (*specials)[name]["ids"]) {
          (seen_sequence ? suffix : prefix).push_back(id.get<int32_t>());
        }
      } else {
        fail_input(where, ".single: unexpected item ", piece.dump());
      }
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    const auto& cls = spec.at("cls");
    const auto& sep = spec.at("sep");
    prefix.push_back(cls.at(1).get<int32_t>());
    suffix.push_back(sep.at(1).get<int32_t>());
  } else {
    fail_input(where, ": unsupported post-processor type \"", type, "\"");
  }
  t.prefix_ids.insert(t.prefix_ids.begin(), prefix.begin(), prefix.end());
  t.suffix_ids.insert(t.suffix_ids.end(), suffix.begin(), suffix.end());
}

// bos_token / eos_token of tokenizer_config.json: a string or {"content": ...}.
int32_t config_token(const TokenizerImpl& t, const char* key) {
  const auto it = t.config.find(key);
  if (it == t.config.end()) return -1;
  std::string content;
  if (it->is_string()) {
    content = it->get<std::string>();
  } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    content = (*it)["content"].get<std::string>();
  } else {
    return -1;
  }
  return id_of(t, content);
}

// transformers' LlamaTokenizerFast (and its relatives) replace the post-processor at load time
// with "[bos] $A [eos]" chosen by add_bos_token (default true) and add_eos_token (default false).
void apply_llama_special_tokens(TokenizerImpl& t) {
  static const std::unordered_set<std::string> kLlamaClasses = {
      "LlamaTokenizerFast", "LlamaTokenizer", "CodeLlamaTokenizerFast", "CodeLlamaTokenizer"};
  const auto cls = t.config.find("tokenizer_class");
  if (cls == t.config.end() || !cls->is_string() || !kLlamaClasses.count(cls->get<std::string>())) {
    return;
  }
  const bool add_bos = flag(t.config, "add_bos_token", true);
  const bool add_eos = flag(t.config, "add_eos_token", false);
  if ((add_bos && t.bos < 0) || (add_eos && t.eos < 0)) {
    fail_input(t.origin, ": tokenizer_config.json asks for add_bos_token/add_eos_token but ",
               "bos_token/eos_token is not a known token");
  }
  t.prefix_ids.clear();
  t.suffix_ids.clear();
  if (add_bos) t.prefix_ids.push_back(t.bos);
  if (add_eos) t.suffix_ids.push_back(t.eos);
}

// transformers registers tokenizer_config.json's special tokens (bos_token, eos_token, ...,
// additional_special_tokens) as special in the Rust tokenizer, so skip_special_tokens drops them
// even where tokenizer.json's added_tokens say special=false.
void mark_config_special_tokens(TokenizerImpl& t) {
  std::vector<int32_t> ids;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                          "cls_token", "mask_token"}) {
    ids.push_back(config_token(t, key));
  }
  if (const auto it = t.config.find("additional_special_tokens");
      it != t.config.end() && it->is_array()) {
    for (const auto& token : *it) {
      if (token.is_string()) ids.push_back(id_of(t, token.get<std::string>()));
      if (token.is_object() && token.contains("content") && token["content"].is_string()) {
        ids.push_back(id_of(t, token["content"].get<std::string>()));
      }
    }
  }
  for (const int32_t id : ids) {
    if (id >= 0 && id < t.vocab_size) t.id_special[id] = 1;
  }
}

}  // namespace

std::string clean_up_tokenization(std::string s) {
  // transformers PreTrainedTokenizerBase.clean_up_tokenization: these replacements, in order.
  static const std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    if (s.find(from) == std::string::npos) continue;
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    for (size_t hit = s.find(from); hit != std::string::npos; hit = s.find(from, pos)) {
      out.append(s, pos, hit - pos).append(to);
      pos = hit + from.size();
    }
    out.append(s, pos);
    s.swap(out);
  }
  return s;
}

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& dir) {
  const std::string json_path = path_join(dir, "tokenizer.json");
  const std::string config_path = path_join(dir, "tokenizer_config.json");
  const std::string json = read_file(json_path);
  const std::string config = file_exists(config_path) ? read_file(config_path) : std::string();
  return from_json(json, config, dir);
}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json,
                               const std::string& origin) {
  try {
    return build(tokenizer_json, config_json, origin);
  } catch (const nlohmann::json::exception& e) {  // a field of the wrong JSON type
    fail_input(origin, "/tokenizer.json: ", e.what());
  }
}

Tokenizer Tokenizer::build(std::string_view tokenizer_json, std::string_view config_json,
                           const std::string& origin) {
  auto t = std::make_unique<TokenizerImpl>();
  t->origin = origin;
  const std::string file = origin + "/tokenizer.json";
  if (!config_json.empty()) {
    try {
      t->config = nlohmann::json::parse(config_json);
    } catch (const nlohmann::json::exception& e) {
      fail_input(origin, "/tokenizer_config.json: not valid JSON: ", e.what());
    }
    if (!t->config.is_object()) fail_input(origin, "/tokenizer_config.json: expected an object");
  }

  TokenizerJson parsed = parse_tokenizer_json(tokenizer_json, file);
  const nlohmann::json& root = parsed.rest;
  parse_normalizer(*t, root.value("normalizer", nlohmann::json()), file + ": normalizer");
  t->pre_tokenizer = PreTokenizer::from_json(root.value("pre_tokenizer", nlohmann::json()),
                                             file + ": pre_tokenizer");

  // Model.
  int64_t max_id = -1;
  bool multi_symbol = false;  // a token of more than one character, which only merges can make
  parsed.vocab.for_each([&](std::string_view token, int32_t id) {
    max_id = std::max<int64_t>(max_id, id);
    size_t starts = 0;  // UTF-8 characters (bytes that do not continue one)
    for (char c : token) starts += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    multi_symbol = multi_symbol || starts > 1;
  });
  if (parsed.vocab.size() == 0) fail_input(file, ": model.vocab is empty");
  if (parsed.merges.empty() && multi_symbol)
    fail_input(file, ": model.merges is missing or empty, but the vocab has tokens of several ",
               "characters that only merges can produce");
  // Each id names one token: the vocab's own tokens by id, for the checks below.
  std::vector<std::string> vocab_token(static_cast<size_t>(max_id + 1));
  std::vector<uint8_t> vocab_named(static_cast<size_t>(max_id + 1), 0);
  parsed.vocab.for_each([&](std::string_view token, int32_t id) {
    if (vocab_named[id]) fail_input(file, ": model.vocab gives id ", id, " to two tokens");
    vocab_named[id] = 1;
    vocab_token[id] = std::string(token);
  });
  t->bpe.set_vocab(std::move(parsed.vocab));
  t->bpe.set_byte_level(t->pre_tokenizer.byte_level());
  t->bpe.set_ignore_merges(parsed.ignore_merges);
  std::string bad;
  t->bpe.reserve_merges(parsed.merges.size());
  for (size_t i = 0; i < parsed.merges.size(); ++i) {
    const auto& [left, right] = parsed.merges[i];
    if (!t->bpe.add_merge(left, right, bad)) {
      fail_input(file, ": model.merges[", i, "] uses \"", bad, "\", which is not in the vocab");
    }
  }
  if (!parsed.unk_token.empty()) {
    const int32_t unk = t->bpe.find(parsed.unk_token);
    if (unk < 0)
      fail_input(file, ": model.unk_token \"", parsed.unk_token, "\" is not in the vocab");
    t->bpe.set_unk(unk, parsed.fuse_unk);
  }

  // Added tokens.
  std::vector<AddedToken> added;
  if (const auto it = root.find("added_tokens"); it != root.end() && !it->is_null()) {
    if (!it->is_array()) fail_input(file, ": added_tokens: expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& a = (*it)[i];
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string() || a["id"].get<int64_t>() < 0 ||
          a["id"].get<int64_t>() >= kMaxTokenId) {
        fail_input(file, ": added_tokens[", i, "]: expected an object with id and content");
      }
      AddedToken token;
      token.id = a["id"].get<int32_t>();
      token.content = a["content"].get<std::string>();
      if (static_cast<size_t>(token.id) < vocab_named.size() && vocab_named[token.id] &&
          vocab_token[token.id] != token.content)
        fail_input(file, ": added_tokens[", i, "] gives id ", token.id, " to \"", token.content,
                   "\", but the vocab has \"", vocab_token[token.id], "\" there");
      token.special = flag(a, "special", false);
      token.lstrip = flag(a, "lstrip", false);
      token.rstrip = flag(a, "rstrip", false);
      token.single_word = flag(a, "single_word", false);
      token.normalized = flag(a, "normalized", !token.special);
      if (token.normalized) {
        // Hugging Face matches these in normalized text, so it normalizes their content too.
        AddedToken pattern = token;
        if (t->nfc) pattern.content = nfc(pattern.content);
        t->normalized_added.add(pattern);
      } else {
        t->raw_added.add(token);
      }
      t->added_ids.emplace(token.content, token.id);
      max_id = std::max<int64_t>(max_id, token.id);
      added.push_back(std::move(token));
    }
  }
  t->vocab_size = max_id + 1;
  // No id without a token: every id below the largest is named by the vocab or an added token
  // (true of every published tokenizer; a hole means a damaged file, and a stray huge id would
  // size every per-id table).
  std::vector<uint8_t> named = std::move(vocab_named);
  named.resize(static_cast<size_t>(t->vocab_size), 0);
  for (const AddedToken& token : added) named[token.id] = 1;
  for (int64_t id = 0; id < t->vocab_size; ++id)
    if (!named[id]) {
      int64_t end = id;
      while (end + 1 < t->vocab_size && !named[end + 1]) ++end;
      fail_input(file, ": ids ", id, "..", end, " are not named by any token (the vocab and ",
                 "added_tokens must cover every id up to the largest, ", t->vocab_size - 1, ")");
    }

  // Decoding tables.
  bool byte_level_decoder = false;
  parse_decoder(*t, root.value("decoder", nlohmann::json()), file + ": decoder",
                byte_level_decoder);
  t->join_with_spaces = root.value("decoder", nlohmann::json()).is_null();
  t->id_bytes.assign(size_t(t->vocab_size), std::string());
  t->id_known.assign(size_t(t->vocab_size), 0);
  t->id_special.assign(size_t(t->vocab_size), 0);
  auto set_text = [&](int32_t id, std::string_view content) {
    t->id_bytes[id] = byte_level_decoder ? byte_level_decode(content) : std::string(content);
    t->id_known[id] = 1;
  };
  t->bpe.vocab().for_each([&](std::string_view token, int32_t id) { set_text(id, token); });
  for (const AddedToken& token : added) {
    set_text(token.id, token.content);
    t->id_special[token.id] = token.special ? 1 : 0;
  }

  // Special tokens for encode(add_special_tokens=true) and the ids users ask for.
  parse_post_processor(*t, root.value("post_processor", nlohmann::json()),
                       file + ": post_processor");
  t->bos = config_token(*t, "bos_token");
  t->eos = config_token(*t, "eos_token");
  apply_llama_special_tokens(*t);
  mark_config_special_tokens(*t);
  t->clean_up = flag(t->config, "clean_up_tokenization_spaces", false);
  return Tokenizer(std::move(t));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const TokenizerImpl& t = *impl_;
  std::string repaired;
  if (valid_utf8_prefix(text) != text.size()) {
    repaired = repair_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  if (add_special_tokens) ids = t.prefix_ids;
  std::vector<Segment> raw, normalized;
  std::vector<Piece> words;
  std::string buffer;
  auto encode_plain = [&](std::string_view plain) {
    buffer.assign(plain);
    t.pre_tokenizer.run(buffer, words);
    for (const Piece& w : words) {
      t.bpe.encode_word(std::string_view(buffer).substr(w.begin, w.end - w.begin), ids);
    }
  };
  if (t.raw_added.empty()) {
    raw.push_back({0, text.size(), -1});
  } else {
    t.raw_added.split(text, raw);
  }
  for (const Segment& seg : raw) {
    if (seg.token_id >= 0) {
      ids.push_back(seg.token_id);
      continue;
    }
    const std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    if (piece.empty()) continue;
    const std::string norm = t.nfc ? nfc(piece) : std::string(piece);
    if (t.normalized_added.empty()) {
      encode_plain(norm);
      continue;
    }
    normalized.clear();
    t.normalized_added.split(norm, normalized);
    for (const Segment& sub : normalized) {
      if (sub.token_id >= 0) {
        ids.push_back(sub.token_id);
      } else if (sub.end > sub.begin) {
        encode_plain(std::string_view(norm).substr(sub.begin, sub.end - sub.begin));
      }
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), t.suffix_ids.begin(), t.suffix_ids.end());
  return ids;
}

std::string Tokenizer::token_bytes(int32_t id, bool skip_special) const {
  const TokenizerImpl& t = *impl_;
  if (id < 0 || id >= t.vocab_size || !t.id_known[id]) return {};
  if (skip_special && t.id_special[id]) return {};
  return t.id_bytes[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  const TokenizerImpl& t = *impl_;
  std::string out;
  bool first = true;
  for (const int32_t id : ids) {
    if (id < 0 || id >= t.vocab_size || !t.id_known[id]) continue;
    if (skip_special_tokens && t.id_special[id]) continue;
    if (t.join_with_spaces && !first) out += ' ';
    out += t.id_bytes[id];
    first = false;
  }
  out = repair_utf8(out);
  return t.clean_up ? clean_up_tokenization(std::move(out)) : out;
}

std::string Tokenizer::token_text(int32_t id) const {
  return token_bytes(id, false);
}
int32_t Tokenizer::token_id(std::string_view token) const {
  return id_of(*impl_, token);
}
bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < impl_->vocab_size && impl_->id_special[id];
}
int32_t Tokenizer::bos_id() const {
  return impl_->bos;
}
int32_t Tokenizer::eos_id() const {
  return impl_->eos;
}
int64_t Tokenizer::vocab_size() const {
  return impl_->vocab_size;
}
const nlohmann::json& Tokenizer::config() const {
  return impl_->config;
}
bool Tokenizer::clean_up_spaces() const {
  return impl_->clean_up;
}
bool Tokenizer::joins_with_spaces() const {
  return impl_->join_with_spaces;
}

}  // namespace r1::tok
