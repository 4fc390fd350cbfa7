#include "tokenizer/bpe_train.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <queue>

#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/unicode.h"

namespace r1::tok {

const char* const kQwen2PreTokenizerRegex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

namespace {

using ojson = nlohmann::ordered_json;

ojson byte_level_json() {
  return ojson{{"type", "ByteLevel"},
               {"add_prefix_space", false},
               {"trim_offsets", false},
               {"use_regex", false}};
}

ojson pre_tokenizer_json() {
  ojson split = {{"type", "Split"},
                 {"pattern", {{"Regex", kQwen2PreTokenizerRegex}}},
                 {"behavior", "Isolated"},
                 {"invert", false}};
  return ojson{{"type", "Sequence"}, {"pretokenizers", ojson::array({split, byte_level_json()})}};
}

AddedToken added(const char* content, bool special) {
  AddedToken t;
  t.content = content;
  t.special = special;
  return t;  // lstrip, rstrip, single_word and normalized are false in both source files
}

uint64_t pair_key(int32_t a, int32_t b) {
  return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}
int32_t pair_left(uint64_t key) {
  return int32_t(key >> 32);
}
int32_t pair_right(uint64_t key) {
  return int32_t(key & 0xffffffffu);
}

// A queue entry; the top is the highest count, then the smallest pair. Counts in the queue may
// be stale (higher than the current count); the trainer refreshes them when they surface.
struct Candidate {
  int64_t count;
  uint64_t pair;
  bool operator<(const Candidate& o) const {
    if (count != o.count) return count < o.count;
    return pair > o.pair;
  }
};

struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

// Indents every line after the first of a nested JSON dump by `pad`.
std::string indent(const std::string& s, const std::string& pad) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

void make_dirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos == dir.size() || dir[pos] == '/') {
      const std::string prefix = dir.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        fail_input(dir, ": cannot create folder ", prefix, ": ", std::strerror(errno));
      }
    }
  }
}

}  // namespace

std::vector<AddedToken> r1_added_tokens() {
  // r1-distill-qwen tokenizer.json ids 151643..151649 without <|EOT|>, then DeepSeek-R1's pad
  // token (r1 tokenizer.json id 2: special, not normalized).
  return {added("<｜end▁of▁sentence｜>", true),
          added("<｜User｜>", false),
          added("<｜Assistant｜>", false),
          added("<｜begin▁of▁sentence｜>", true),
          added("<think>", false),
          added("</think>", false),
          added("<｜▁pad▁｜>", true)};
}

void use_r1_special_tokens(BpeTrainOptions& options) {
  options.added_tokens = r1_added_tokens();
  options.bos_token = "<｜begin▁of▁sentence｜>";
  options.eos_token = "<｜end▁of▁sentence｜>";
  options.pad_token = "<｜▁pad▁｜>";
}

BpePieceCounter::BpePieceCounter(const std::vector<AddedToken>& added_tokens)
    : pre_tokenizer_(PreTokenizer::from_json(nlohmann::json::parse(pre_tokenizer_json().dump()),
                                             "pre_tokenizer")) {
  for (size_t k = 0; k < added_tokens.size(); ++k) {
    AddedToken t = added_tokens[k];
    t.id = int32_t(k);
    matcher_.add(t);
  }
}

void BpePieceCounter::add_document(std::string_view text) {
  corpus_bytes_ += int64_t(text.size());
  std::string repaired;
  if (valid_utf8_prefix(text) != text.size()) {
    repaired = repair_utf8(text);
    text = repaired;
  }
  segments_.clear();
  if (matcher_.empty()) {
    segments_.push_back({0, text.size(), -1});
  } else {
    matcher_.split(text, segments_);
  }
  for (const Segment& seg : segments_) {
    if (seg.token_id >= 0) {
      ++special_occurrences_;
      continue;
    }
    if (seg.end <= seg.begin) continue;
    buffer_.assign(text.substr(seg.begin, seg.end - seg.begin));
    pre_tokenizer_.run(buffer_, words_);
    for (const Piece& w : words_) {
      const std::string_view piece = std::string_view(buffer_).substr(w.begin, w.end - w.begin);
      auto it = pieces_.find(piece);
      if (it == pieces_.end()) {
        pieces_.emplace(std::string(piece), 1);
      } else {
        ++it->second;
      }
    }
  }
}

BpeTrainResult train_bpe(const BpePieceCounter& counter, const BpeTrainOptions& options) {
  const int64_t n_added = int64_t(options.added_tokens.size());
  if (options.vocab_size < 256 + n_added) {
    fail_usage("vocab size ", options.vocab_size, " cannot hold the 256 byte tokens and ", n_added,
               " added tokens (at least ", 256 + n_added, ")");
  }
  const size_t target = size_t(options.vocab_size - n_added);  // bytes + merged tokens
  const int64_t min_count = std::max<int64_t>(1, options.min_frequency);

  BpeTrainResult result;
  result.corpus_bytes = counter.corpus_bytes();
  result.unique_pieces = int64_t(counter.pieces().size());

  // Byte b has the id of its position in GPT-2's order, i.e. the rank of its code point.
  const ByteLevelAlphabet& alphabet = byte_level_alphabet();
  std::vector<std::pair<uint32_t, int>> by_code_point;
  for (int b = 0; b < 256; ++b) {
    size_t pos = 0;
    by_code_point.emplace_back(next_code_point(alphabet.byte_to_utf8[b], pos), b);
  }
  std::sort(by_code_point.begin(), by_code_point.end());
  std::array<int32_t, 256> byte_id{};
  for (int k = 0; k < 256; ++k) {
    byte_id[by_code_point[k].second] = k;
    result.tokens.push_back(alphabet.byte_to_utf8[by_code_point[k].second]);
  }
  std::unordered_map<std::string, int32_t> token_ids;
  for (int k = 0; k < 256; ++k) token_ids.emplace(result.tokens[k], k);

  // Unique words in byte order, so that everything below is independent of hash order.
  std::vector<std::pair<std::string_view, int64_t>> sorted;
  sorted.reserve(counter.pieces().size());
  for (const auto& [piece, count] : counter.pieces()) sorted.emplace_back(piece, count);
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words(sorted.size());
  for (size_t w = 0; w < sorted.size(); ++w) {
    words[w].count = sorted[w].second;
    for (const char c : sorted[w].first) words[w].symbols.push_back(byte_id[uint8_t(c)]);
  }

  std::unordered_map<uint64_t, int64_t> pair_counts;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;  // words that may hold the pair
  for (size_t w = 0; w < words.size(); ++w) {
    const std::vector<int32_t>& s = words[w].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const uint64_t key = pair_key(s[i], s[i + 1]);
      pair_counts[key] += words[w].count;
      std::vector<int32_t>& list = where[key];
      if (list.empty() || list.back() != int32_t(w)) list.push_back(int32_t(w));
    }
  }
  std::priority_queue<Candidate> queue;
  for (const auto& [key, count] : pair_counts) queue.push({count, key});

  std::vector<uint64_t> grown;  // pairs whose count rose during one merge
  std::vector<int32_t> scratch;
  while (result.tokens.size() < target && !queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    const int64_t current = pair_counts[top.pair];
    if (top.count != current) {
      if (current > 0) queue.push({current, top.pair});
      continue;
    }
    if (current < min_count) break;

    const int32_t left = pair_left(top.pair), right = pair_right(top.pair);
    std::string merged = result.tokens[size_t(left)] + result.tokens[size_t(right)];
    auto [it, fresh] = token_ids.emplace(merged, int32_t(result.tokens.size()));
    if (fresh) result.tokens.push_back(std::move(merged));
    const int32_t id = it->second;
    result.merges.emplace_back(left, right);

    std::vector<int32_t> list = std::move(where[top.pair]);
    where.erase(top.pair);
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    grown.clear();
    auto change = [&](int32_t a, int32_t b, int64_t delta, int32_t w) {
      const uint64_t key = pair_key(a, b);
      pair_counts[key] += delta;
      if (delta > 0) {
        std::vector<int32_t>& l = where[key];
        if (l.empty() || l.back() != w) l.push_back(w);
        grown.push_back(key);
      }
    };
    for (const int32_t w : list) {
      Word& word = words[size_t(w)];
      const std::vector<int32_t>& s = word.symbols;
      scratch.clear();
      // Left to right, non-overlapping, as HF's Word::merge: the left neighbour is already
      // rewritten (it may be a fresh merge), the right one not yet.
      for (size_t r = 0; r < s.size();) {
        if (s[r] == left && r + 1 < s.size() && s[r + 1] == right) {
          if (!scratch.empty()) {
            change(scratch.back(), left, -word.count, w);
            change(scratch.back(), id, word.count, w);
          }
          if (r + 2 < s.size()) {
            change(right, s[r + 2], -word.count, w);
            change(id, s[r + 2], word.count, w);
          }
          scratch.push_back(id);
          r += 2;
        } else {
          scratch.push_back(s[r]);
          ++r;
        }
      }
      word.symbols.swap(scratch);
    }
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (const uint64_t key : grown) queue.push({pair_counts[key], key});
  }

  result.corpus_tokens = counter.special_occurrences();
  for (const Word& word : words) result.corpus_tokens += word.count * int64_t(word.symbols.size());
  for (int64_t k = 0; k < n_added; ++k) {
    AddedToken t = options.added_tokens[size_t(k)];
    t.id = int32_t(result.tokens.size() + size_t(k));
    result.added_tokens.push_back(t);
  }
  return result;
}

BpeTrainResult train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& options) {
  BpePieceCounter counter(options.added_tokens);
  for (const std::string& text : texts) counter.add_document(text);
  return train_bpe(counter, options);
}

namespace {

int32_t added_id(const BpeTrainResult& result, const std::string& content) {
  for (const AddedToken& t : result.added_tokens) {
    if (t.content == content) return t.id;
  }
  return -1;
}

void check_named_token(const BpeTrainResult& result, const std::string& content, const char* role) {
  if (!content.empty() && added_id(result, content) < 0) {
    fail_usage(role, " \"", content, "\" is not one of the added tokens");
  }
}

ojson added_token_json(const AddedToken& t, bool with_id) {
  ojson j;
  if (with_id) j["id"] = t.id;
  j["content"] = t.content;
  j["single_word"] = t.single_word;
  j["lstrip"] = t.lstrip;
  j["rstrip"] = t.rstrip;
  j["normalized"] = t.normalized;
  j["special"] = t.special;
  return j;
}

}  // namespace

std::string bpe_tokenizer_json(const BpeTrainResult& result, const BpeTrainOptions& options) {
  check_named_token(result, options.bos_token, "BOS token");
  ojson added = ojson::array();
  for (const AddedToken& t : result.added_tokens) added.push_back(added_token_json(t, true));
  ojson post = nullptr;
  if (!options.bos_token.empty()) {
    const std::string& bos = options.bos_token;
    auto special = [&](int type_id) {
      return ojson{{"SpecialToken", {{"id", bos}, {"type_id", type_id}}}};
    };
    auto sequence = [](const char* id, int type_id) {
      return ojson{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
    };
    post = {{"type", "TemplateProcessing"},
            {"single", ojson::array({special(0), sequence("A", 0)})},
            {"pair", ojson::array({special(0), sequence("A", 0), special(1), sequence("B", 1)})},
            {"special_tokens",
             {{bos,
               {{"id", bos},
                {"ids", ojson::array({added_id(result, bos)})},
                {"tokens", ojson::array({bos})}}}}}};
  }
  // Written by hand around the two big tables: ordered_json inserts are linear in the object's
  // size, too slow for 100k-entry vocabularies.
  std::string out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n";
  out += "  \"added_tokens\": " + indent(added.dump(2), "  ") + ",\n";
  out += "  \"normalizer\": null,\n";
  out += "  \"pre_tokenizer\": " + indent(pre_tokenizer_json().dump(2), "  ") + ",\n";
  out += "  \"post_processor\": " + indent(post.dump(2), "  ") + ",\n";
  out += "  \"decoder\": " + indent(byte_level_json().dump(2), "  ") + ",\n";
  out +=
      "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
      "    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n"
      "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
      "    \"vocab\": {";
  for (size_t id = 0; id < result.tokens.size(); ++id) {
    out += id == 0 ? "\n      " : ",\n      ";
    out += ojson(result.tokens[id]).dump() + ": " + std::to_string(id);
  }
  out += "\n    },\n    \"merges\": [";
  for (size_t k = 0; k < result.merges.size(); ++k) {
    out += k == 0 ? "\n      [" : ",\n      [";
    out += ojson(result.tokens[size_t(result.merges[k].first)]).dump() + ", " +
           ojson(result.tokens[size_t(result.merges[k].second)]).dump() + "]";
  }
  out += "\n    ]\n  }\n}\n";
  return out;
}

std::string bpe_tokenizer_config_json(const BpeTrainResult& result,
                                      const BpeTrainOptions& options) {
  check_named_token(result, options.bos_token, "BOS token");
  check_named_token(result, options.eos_token, "EOS token");
  check_named_token(result, options.pad_token, "PAD token");
  auto name_or_null = [](const std::string& s) { return s.empty() ? ojson(nullptr) : ojson(s); };
  ojson c;
  c["add_bos_token"] = !options.bos_token.empty();
  c["add_eos_token"] = false;
  c["bos_token"] = name_or_null(options.bos_token);
  c["eos_token"] = name_or_null(options.eos_token);
  c["pad_token"] = name_or_null(options.pad_token);
  c["unk_token"] = nullptr;
  c["clean_up_tokenization_spaces"] = false;
  c["legacy"] = true;
  c["model_max_length"] = options.model_max_length;
  c["tokenizer_class"] = "LlamaTokenizerFast";
  ojson decoder = ojson::object();
  for (const AddedToken& t : result.added_tokens) {
    decoder[std::to_string(t.id)] = added_token_json(t, false);
  }
  c["added_tokens_decoder"] = decoder;
  if (!options.chat_template.is_null()) {
    c["chat_template"] = ojson::parse(options.chat_template.dump());
  }
  return c.dump(2) + "\n";
}

void write_bpe_tokenizer(const std::string& dir, const BpeTrainResult& result,
                         const BpeTrainOptions& options) {
  const std::string tokenizer = bpe_tokenizer_json(result, options);
  const std::string config = bpe_tokenizer_config_json(result, options);
  make_dirs(dir);
  write_file_atomic(path_join(dir, "tokenizer.json"), tokenizer);
  write_file_atomic(path_join(dir, "tokenizer_config.json"), config);
}

}  // namespace r1::tok
