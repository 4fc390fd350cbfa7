// Tokenizer speed: load time of a tokenizer folder and encode throughput on a text file cut into
// documents of about 2 KB at line ends. Prints one JSON line; bench/tokenizer_bench.sh runs it next
// to the JS oracle and prints the ratio.
//
// Usage: tokenizer_bench TOKENIZER_DIR TEXT_FILE [REPEATS]
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/tokenizer.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::string> cut_documents(const std::string& text) {
  std::vector<std::string> docs;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', std::min(text.size(), start + 2000));
    end = end == std::string::npos ? text.size() : end + 1;
    docs.push_back(text.substr(start, end - start));
    start = end;
  }
  return docs;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR TEXT_FILE [REPEATS]\n", argv[0]);
    return 2;
  }
  try {
    const int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
    double load_best = 1e9;
    for (int i = 0; i < 3; ++i) {
      const auto start = std::chrono::steady_clock::now();
      const auto tok = r1::tok::Tokenizer::load(argv[1]);
      load_best = std::min(load_best, seconds_since(start));
    }
    const auto tok = r1::tok::Tokenizer::load(argv[1]);
    const std::string text = r1::read_file(argv[2]);
    const std::vector<std::string> docs = cut_documents(text);
    std::vector<std::vector<int32_t>> ids(docs.size());
    double encode_best = 1e9;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      for (size_t i = 0; i < docs.size(); ++i) ids[i] = tok.encode(docs[i]);
      encode_best = std::min(encode_best, seconds_since(start));
    }
    // FNV-1a over all ids, to compare with the JS oracle's run.
    uint64_t hash = 1469598103934665603ull;
    size_t n_ids = 0;
    for (const auto& doc_ids : ids) {
      for (const int32_t id : doc_ids) hash = (hash ^ uint32_t(id)) * 1099511628211ull;
      n_ids += doc_ids.size();
    }
    std::printf(
        "{\"impl\": \"r1\", \"load_s\": %.4f, \"bytes\": %zu, \"docs\": %zu, \"ids\": %zu, "
        "\"encode_s\": %.4f, \"encode_mb_s\": %.2f, \"ids_fnv1a\": \"%016llx\"}\n",
        load_best, text.size(), docs.size(), n_ids, encode_best, text.size() / encode_best / 1e6,
        static_cast<unsigned long long>(hash));
    return 0;
  } catch (const r1::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
