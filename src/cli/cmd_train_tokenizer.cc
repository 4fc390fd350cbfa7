// r1 train tokenizer: learns a byte-level BPE tokenizer (Qwen2 / R1-Distill-Qwen layout, see
// tokenizer/bpe_train.h) from text or JSONL corpora and writes a Hugging Face tokenizer folder.
// Corpus documents: a .jsonl file (or a file whose first non-blank line is a JSON object) gives
// per line the string "text", each "content" of "messages", and the strings "prompt",
// "response", "question", "answer" that are present; any other file is plain text where each
// line, with its newline, is one document. After writing, the folder is loaded back with r1's
// Tokenizer and the corpus encoded with it to report the real compression.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/bpe_train.h"
#include "tokenizer/tokenizer.h"

namespace r1::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = std::min(s.find(',', start), s.size());
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Reads documents from one corpus file into `docs` until `budget` bytes of file are used up.
// Returns false once the budget is exhausted.
bool read_corpus(const std::string& path, int64_t& budget, std::vector<std::string>& docs) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_input(path, ": cannot open corpus file");
  std::vector<std::string> lines;
  std::string line;
  bool jsonl = ends_with(path, ".jsonl");
  bool decided = jsonl;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    const bool had_newline = !in.eof();
    const int64_t used = int64_t(line.size()) + (had_newline ? 1 : 0);
    if (used > budget) {
      budget = 0;
      return false;
    }
    budget -= used;
    const std::string where = path + ":" + std::to_string(n);
    if (!decided && line.find_first_not_of(" \t\r") != std::string::npos) {
      decided = true;
      jsonl = nlohmann::json::accept(line) && nlohmann::json::parse(line).is_object();
    }
    if (!jsonl) {
      docs.push_back(had_newline ? line + "\n" : line);
      continue;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail_input(where, ": invalid JSON: ", e.what());
    }
    if (!j.is_object()) fail_input(where, ": expected a JSON object");
    size_t found = 0;
    for (const char* key : {"text", "prompt", "response", "question", "answer"}) {
      if (!j.contains(key)) continue;
      if (!j[key].is_string()) fail_input(where, ": \"", key, "\" must be a string");
      docs.push_back(j[key].get<std::string>());
      ++found;
    }
    if (j.contains("messages")) {
      const nlohmann::json& m = j["messages"];
      if (!m.is_array()) fail_input(where, ": \"messages\" must be an array");
      for (size_t k = 0; k < m.size(); ++k) {
        if (!m[k].is_object() || !m[k].contains("content") || !m[k]["content"].is_string()) {
          fail_input(where, ": messages[", k, "] must be an object with a string \"content\"");
        }
        docs.push_back(m[k]["content"].get<std::string>());
      }
      ++found;
    }
    if (found == 0) {
      fail_input(where,
                 ": expected \"text\", \"messages\", \"prompt\"/\"response\" or "
                 "\"question\"/\"answer\"");
    }
  }
  return true;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int run_train_tokenizer(Args& args) {
  const std::string corpus = args.take_str("--corpus", "");
  const std::string out = args.take_str("--out", "", "-o");
  tok::BpeTrainOptions options;
  options.vocab_size = args.take_int("--vocab-size", 0, 1, kMaxVocab);
  options.min_frequency = args.take_int("--min-frequency", 2, 1, kMaxI64);
  const std::string special = args.take_str("--special", "r1");
  const std::string template_from = args.take_str("--template-from", "");
  const int64_t max_bytes = args.take_int("--max-bytes", int64_t(1) << 40, 1, kMaxI64);
  args.finish();
  if (corpus.empty()) fail_usage("--corpus FILE[,FILE...] is required");
  if (out.empty()) fail_usage("--out DIR is required");
  if (options.vocab_size <= 0) fail_usage("--vocab-size N is required (N > 0)");
  if (special == "r1") {
    tok::use_r1_special_tokens(options);
  } else if (special != "none") {
    fail_usage("--special must be r1 or none, not \"", special, "\"");
  }
  if (!template_from.empty()) {
    const std::string path = path_join(template_from, "tokenizer_config.json");
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(read_file(path));
    } catch (const nlohmann::json::exception& e) {
      fail_input(path, ": invalid JSON: ", e.what());
    }
    if (!config.is_object() || !config.contains("chat_template")) {
      fail_input(path, ": no chat_template");
    }
    options.chat_template = config["chat_template"];
  }

  const Clock::time_point start = Clock::now();
  std::vector<std::string> docs;
  int64_t budget = max_bytes;
  for (const std::string& path : split_commas(corpus)) {
    if (!read_corpus(path, budget, docs)) break;
  }
  tok::BpePieceCounter counter(options.added_tokens);
  for (const std::string& d : docs) counter.add_document(d);
  const double count_s = seconds_since(start);
  const tok::BpeTrainResult result = tok::train_bpe(counter, options);
  const double train_s = seconds_since(start);
  tok::write_bpe_tokenizer(out, result, options);

  // Load the folder back and encode the corpus with it: checks what was written and measures it.
  const tok::Tokenizer tokenizer = tok::Tokenizer::load(out);
  int64_t tokens = 0;
  for (const std::string& d : docs) tokens += int64_t(tokenizer.encode(d).size());
  std::fprintf(stderr,
               "corpus: %lld bytes in %zu documents, %lld unique pieces (read and counted in "
               "%.2f s)\n"
               "learned %zu merges in %.2f s: vocab size %lld (256 bytes + %zu merged + %zu "
               "added)\n"
               "compression: %lld tokens, %.3f bytes/token (the corpus encoded with the written "
               "tokenizer)\n"
               "wrote %s/tokenizer.json and tokenizer_config.json (%.2f s in all)\n",
               static_cast<long long>(result.corpus_bytes), docs.size(),
               static_cast<long long>(result.unique_pieces), count_s, result.merges.size(),
               train_s - count_s, static_cast<long long>(result.vocab_size()),
               result.tokens.size() - 256, result.added_tokens.size(),
               static_cast<long long>(tokens),
               tokens > 0 ? double(result.corpus_bytes) / double(tokens) : 0.0, out.c_str(),
               seconds_since(start));
  if (result.vocab_size() < options.vocab_size) {
    std::fprintf(stderr,
                 "note: the corpus ran out of pairs seen at least %lld times; vocab size is %lld, "
                 "not %lld\n",
                 static_cast<long long>(options.min_frequency),
                 static_cast<long long>(result.vocab_size()),
                 static_cast<long long>(options.vocab_size));
  }
  return 0;
}

R1_COMMAND({"train tokenizer",
            "learn a byte-level BPE tokenizer from a corpus -> tokenizer folder",
            "r1 train tokenizer --corpus FILE[,FILE...] --vocab-size N --out DIR [flags]\n"
            "  --corpus FILES        .jsonl (\"text\", \"messages\", \"prompt\"/\"response\",\n"
            "                        \"question\"/\"answer\") or plain text, one document a line\n"
            "  --vocab-size N        every id: 256 bytes + merges + special tokens\n"
            "  --min-frequency N     stop when the best pair occurs fewer times (default 2)\n"
            "  --special r1|none     added tokens: the R1 set (BOS, EOS, User, Assistant,\n"
            "                        <think>, </think>, pad; default) or none\n"
            "  --template-from DIR   copy chat_template from DIR/tokenizer_config.json\n"
            "  --max-bytes N         read at most N bytes of corpus files\n"
            "  --out DIR, -o DIR     folder for tokenizer.json and tokenizer_config.json\n",
            {},
            run_train_tokenizer});

}  // namespace
}  // namespace r1::cli
