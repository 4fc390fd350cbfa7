// Byte-level BPE training (tokenizer/bpe_train.h): hand-worked merges, the Qwen2 / R1 layout of
// the written folder as r1's Tokenizer loads it, and goldens from Hugging Face's own tokenizers
// (tests/fixtures/bpe_train/make_golden.mjs): ids of ~100 strings encoded with the committed
// tokenizer.json, and the merges HF's BpeTrainer learns from the same corpus.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/temp_path.h"
#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/bpe_train.h"
#include "tokenizer/tokenizer.h"

namespace r1::tok {
namespace {

std::string fixture(const std::string& name) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/bpe_train/" + name;
}

std::string temp_dir() {
  return testing::fresh_temp_dir("r1_bpe_train_");
}

// The plain-text corpus as r1 train tokenizer (and HF's train_from_files) reads it: each line
// with its newline is a document.
std::vector<std::string> corpus_lines() {
  std::vector<std::string> docs;
  std::ifstream in(fixture("corpus.txt"), std::ios::binary);
  std::string line;
  while (std::getline(in, line)) docs.push_back(in.eof() ? line : line + "\n");
  return docs;
}

std::vector<std::pair<std::string, std::string>> merge_strings(const BpeTrainResult& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [a, b] : r.merges) out.emplace_back(r.tokens[size_t(a)], r.tokens[size_t(b)]);
  return out;
}

using Merges = std::vector<std::pair<std::string, std::string>>;

BpeTrainOptions plain_options(int64_t vocab_size, int64_t min_frequency) {
  BpeTrainOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = min_frequency;
  return o;
}

// The fixture tokenizer: corpus.txt, vocab 400, the R1 special tokens (what
// `r1 train tokenizer --corpus corpus.txt --vocab-size 400 --special r1` writes).
BpeTrainOptions fixture_options() {
  BpeTrainOptions o = plain_options(400, 2);
  use_r1_special_tokens(o);
  return o;
}

const Tokenizer& fixture_tokenizer() {
  static const Tokenizer t = [] {
    const std::string dir = temp_dir();
    write_bpe_tokenizer(dir, train_bpe(corpus_lines(), fixture_options()), fixture_options());
    return Tokenizer::load(dir);
  }();
  return t;
}

// "aaab" "aab" "ab": (a,a) counts 2+1 = 3 (overlapping occurrences count, as in HF) and (a,b) 3;
// the tie goes to the smaller pair (a,a). Merging it rewrites aaab -> [aa a b] (losing one
// (a,a) and gaining (aa,a)) and aab -> [aa b]; then (a,b) = 2 wins; then the count-1 pairs (aa,b)
// and (aa,ab) in id order.
TEST(BpeTrain, HandWorkedMerges) {
  const std::vector<std::string> docs = {"aaab", "aab", "ab"};
  const BpeTrainResult all = train_bpe(docs, plain_options(300, 1));
  EXPECT_EQ(merge_strings(all), (Merges{{"a", "a"}, {"a", "b"}, {"aa", "b"}, {"aa", "ab"}}));
  ASSERT_EQ(all.tokens.size(), 260u);
  EXPECT_EQ(all.tokens[256], "aa");
  EXPECT_EQ(all.tokens[259], "aaab");
  EXPECT_EQ(all.corpus_tokens, 3);  // every word became one token
  EXPECT_EQ(all.unique_pieces, 3);

  // min_frequency 2 stops after the two pairs seen twice or more.
  EXPECT_EQ(merge_strings(train_bpe(docs, plain_options(300, 2))),
            (Merges{{"a", "a"}, {"a", "b"}}));
  // vocab_size caps the merges.
  EXPECT_EQ(merge_strings(train_bpe(docs, plain_options(257, 1))), (Merges{{"a", "a"}}));
}

TEST(BpeTrain, TiesGoToTheSmallestPairAndCountsDecide) {
  // Equal counts: (a,b) < (c,d) < (d,c) by ids whatever the corpus order.
  EXPECT_EQ(merge_strings(train_bpe({"dc", "cd", "ab"}, plain_options(257, 1))),
            (Merges{{"a", "b"}}));
  EXPECT_EQ(merge_strings(train_bpe({"dc", "cd"}, plain_options(257, 1))), (Merges{{"c", "d"}}));
  // A higher count wins over a smaller pair.
  EXPECT_EQ(merge_strings(train_bpe({"ab", "yz", "yz"}, plain_options(257, 1))),
            (Merges{{"y", "z"}}));
  // Pieces are the Qwen2 pre-tokenizer's: " cat" (space + letters) and digits one by one, so
  // no merge ever joins two digits or crosses a word boundary.
  const BpeTrainResult r = train_bpe({"12 12 12 cat cat cat"}, plain_options(400, 2));
  // (a,t), (c,a) and (Ġ,c) all count 3; ids a=64 < c=66 < Ġ=220 order them.
  EXPECT_EQ(merge_strings(r), (Merges{{"a", "t"}, {"c", "at"}, {"Ġ", "cat"}}));
}

TEST(BpeTrain, LayoutAndVocabSize) {
  const BpeTrainResult r = train_bpe(corpus_lines(), fixture_options());
  ASSERT_EQ(r.vocab_size(), 400);
  ASSERT_EQ(r.added_tokens.size(), 7u);
  EXPECT_EQ(r.tokens[0], "!");  // GPT-2 order: printable bytes first, as Qwen's vocab
  EXPECT_EQ(r.tokens[94], "¡");
  EXPECT_EQ(r.tokens[188], "Ā");  // byte 0
  EXPECT_EQ(r.tokens[220], "Ġ");  // space, as in Qwen's vocab
  const Tokenizer& t = fixture_tokenizer();
  EXPECT_EQ(t.vocab_size(), 400);
  // Merge ranks follow learning order: each merge's parts existed before it, and the fresh
  // results are exactly ids 256, 257, ... in merge order.
  std::vector<std::string> texts;
  for (int32_t id = 0; id < 393; ++id) texts.push_back(t.token_text(id));
  int32_t next_fresh = 256;
  for (const auto& [a, b] : r.merges) {
    ASSERT_LT(a, next_fresh);
    ASSERT_LT(b, next_fresh);
    const int32_t id = t.token_id(r.tokens[size_t(a)] + r.tokens[size_t(b)]);
    ASSERT_GE(id, 256);
    ASSERT_LE(id, next_fresh);
    EXPECT_EQ(texts[size_t(id)], texts[size_t(a)] + texts[size_t(b)]);
    if (id == next_fresh) ++next_fresh;
  }
  EXPECT_EQ(next_fresh, 393);
}

TEST(BpeTrain, RoundTripsDigitsAndSpecialTokens) {
  const Tokenizer& t = fixture_tokenizer();
  const std::vector<std::string> texts = {
      "Janet has 16 eggs and eats 3 of them.",
      "Grüße, naïve café — 東京 北京 서울",
      "emoji 🙂🙃 👍🏽 ❤️ 🚀!",
      "lines\n\n  indented\r\n\ttab\n",
      "   leading and trailing spaces   ",
      "12345678901234567890",
      "x=2024; y=-3.14e10",
      "",
      "a",
  };
  for (const std::string& s : texts) EXPECT_EQ(t.decode(t.encode(s)), s) << s;
  // Invalid UTF-8 becomes U+FFFD, as when encoding with any tokenizer.
  EXPECT_EQ(t.decode(t.encode("bytes \xff\xfe invalid")), "bytes \xEF\xBF\xBD\xEF\xBF\xBD invalid");
  // Every digit is its own token.
  const std::vector<int32_t> digits = t.encode("9876543210");
  ASSERT_EQ(digits.size(), 10u);
  for (size_t k = 0; k < 10; ++k)
    EXPECT_EQ(t.token_text(digits[k]), std::string(1, "9876543210"[k]));
  for (const int32_t id : t.encode("In 2024, 365 days and 1000000 dollars.")) {
    const std::string s = t.token_text(id);
    if (s.find_first_of("0123456789") != std::string::npos) {
      EXPECT_EQ(s.size(), 1u) << s;
    }
  }
  // Special tokens are single ids after the merged vocab, in the R1-Distill-Qwen order.
  const std::vector<std::string> specials = {"<｜end▁of▁sentence｜>",
                                             "<｜User｜>",
                                             "<｜Assistant｜>",
                                             "<｜begin▁of▁sentence｜>",
                                             "<think>",
                                             "</think>",
                                             "<｜▁pad▁｜>"};
  for (size_t k = 0; k < specials.size(); ++k) {
    EXPECT_EQ(t.token_id(specials[k]), int32_t(393 + k));
    EXPECT_EQ(t.encode(specials[k]), std::vector<int32_t>{int32_t(393 + k)});
  }
  const std::vector<int32_t> chat = t.encode("<｜User｜>2+2?<｜Assistant｜><think>\nok</think>");
  EXPECT_EQ(chat.front(), 394);
  EXPECT_EQ(chat[1], t.token_id("2"));
  EXPECT_EQ(t.decode(chat), "<｜User｜>2+2?<｜Assistant｜><think>\nok</think>");
  EXPECT_EQ(t.bos_id(), 396);
  EXPECT_EQ(t.eos_id(), 393);
  EXPECT_EQ(t.encode("hi", true).front(), 396);
  EXPECT_TRUE(t.is_special(393));
  EXPECT_TRUE(t.is_special(399));
  EXPECT_EQ(t.config()["pad_token"], "<｜▁pad▁｜>");
  EXPECT_EQ(t.config()["add_bos_token"], true);
}

TEST(BpeTrain, NeverMergesIntoSpecialTokenText) {
  const std::vector<std::string> docs(20, "<think>thinking hard</think> done <｜User｜>");
  BpeTrainOptions with = plain_options(300, 2);
  use_r1_special_tokens(with);
  const BpeTrainResult r = train_bpe(docs, with);
  ASSERT_GT(r.tokens.size(), 260u);
  for (size_t id = 256; id < r.tokens.size(); ++id) {
    const std::string& token = r.tokens[id];
    EXPECT_EQ(token.find('<'), std::string::npos) << token;
    EXPECT_EQ(token.find("User"), std::string::npos) << token;
  }
  // Without the special tokens the same corpus does merge their text (so the check above bites).
  bool merged = false;
  for (const std::string& token : train_bpe(docs, plain_options(300, 2)).tokens) {
    merged = merged || token.find("User") != std::string::npos || token == "</";
  }
  EXPECT_TRUE(merged);
}

TEST(BpeTrain, Deterministic) {
  const BpeTrainOptions o = fixture_options();
  const BpeTrainResult a = train_bpe(corpus_lines(), o);
  const BpeTrainResult b = train_bpe(corpus_lines(), o);
  EXPECT_EQ(bpe_tokenizer_json(a, o), bpe_tokenizer_json(b, o));
  EXPECT_EQ(bpe_tokenizer_config_json(a, o), bpe_tokenizer_config_json(b, o));
  // The committed fixture was written by `r1 train tokenizer` from the same corpus and options.
  EXPECT_EQ(bpe_tokenizer_json(a, o), read_file(fixture("tokenizer.json")));
}

TEST(BpeTrain, VocabTooSmallIsAnError) {
  BpeTrainOptions o = fixture_options();
  o.vocab_size = 262;  // 256 bytes + 7 added tokens need 263
  EXPECT_THROW(train_bpe(std::vector<std::string>{"abc"}, o), Error);
}

// Hugging Face's tokenizers 0.22.2 (Rust, via Node) encoding strings with the committed
// tokenizer.json, and its BpeTrainer trained on corpus.txt through the same pre-tokenizer.
TEST(BpeTrain, MatchesHuggingFaceGoldens) {
  const nlohmann::json golden = nlohmann::json::parse(read_file(fixture("golden.json")));
  const Tokenizer t = Tokenizer::load(std::string(R1_SOURCE_DIR) + "/tests/fixtures/bpe_train");
  const auto& strings = golden.at("strings");
  ASSERT_GE(strings.size(), 100u);
  for (size_t k = 0; k < strings.size(); ++k) {
    const std::string s = strings[k].get<std::string>();
    EXPECT_EQ(t.encode(s), golden.at("ids")[k].get<std::vector<int32_t>>()) << s;
    EXPECT_EQ(t.decode(t.encode(s)), s);
  }
  // HF trained with its BpeTrainer defaults (min_frequency 0, so until pairs run out); r1 with
  // min_frequency 1 and room for every merge must learn the same list in the same order.
  Merges hf;
  for (const std::string& m : golden.at("hf_merges").get<std::vector<std::string>>()) {
    const size_t space = m.find(' ');
    ASSERT_NE(space, std::string::npos) << m;
    hf.emplace_back(m.substr(0, space), m.substr(space + 1));
  }
  ASSERT_GT(hf.size(), 4000u);
  const Merges ours = merge_strings(train_bpe(corpus_lines(), plain_options(1 << 20, 1)));
  for (size_t k = 0; k < std::min(hf.size(), ours.size()); ++k) {
    ASSERT_EQ(ours[k], hf[k]) << "merge " << k;
  }
  EXPECT_EQ(ours.size(), hf.size());
}

}  // namespace
}  // namespace r1::tok
