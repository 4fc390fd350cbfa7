// Encoding behaviours beyond the corpus: invalid UTF-8, oracle-checked variants (added-token
// lstrip/rstrip, character-level BPE with unk, inverted splits), Split behaviours from Hugging
// Face's documentation, round trips and long inputs.
#include <gtest/gtest.h>

#include <thread>

#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace r1::tok {
namespace {

using testing::corpus;
using testing::goldens;
using testing::shared_tokenizer;
using testing::tokenizer_dir;
using testing::tokenizer_names;

// Invalid UTF-8 is defined to be tokenized as its U+FFFD-repaired text (tokenizer.h).
TEST(Encode, InvalidUtf8IsRepairedNotFatal) {
  const std::vector<std::string> inputs = {"\xFF",
                                           "abc\x80 def",
                                           "\xC0\xAF<think>\xED\xA0\x80",
                                           "tail \xF0\x9F\x98",
                                           "\xF4\x90\x80\x80 x",
                                           std::string("nul\0byte", 8)};
  for (const std::string& name : tokenizer_names()) {
    const Tokenizer& t = shared_tokenizer(name);
    for (const std::string& in : inputs) {
      EXPECT_EQ(t.encode(in), t.encode(repair_utf8(in))) << name;
      EXPECT_EQ(t.decode(t.encode(in)), t.decode(t.encode(repair_utf8(in))));
    }
  }
  // U+FFFD itself is in the corpus (goldens compare it); a replaced byte encodes like it.
  const Tokenizer& r1 = shared_tokenizer("r1");
  EXPECT_EQ(r1.encode("a\xFF"
                      "b"),
            r1.encode("a\xEF\xBF\xBD"
                      "b"));
}

TEST(Encode, RoundTripIsExactWithoutNormalizerOrCleanUp) {
  for (const std::string name : {"r1", "deepseek-v3"}) {
    const Tokenizer& t = shared_tokenizer(name);
    for (const std::string& text : corpus()) EXPECT_EQ(t.decode(t.encode(text)), text) << name;
  }
  // Qwen normalizes to NFC: the round trip gives the NFC text.
  const Tokenizer& q = shared_tokenizer("qwen2.5");
  for (const std::string& text : corpus()) EXPECT_EQ(q.decode(q.encode(text)), nfc(text));
}

TEST(Encode, LongInputs) {
  const Tokenizer& t = shared_tokenizer("r1");
  std::string big;
  for (int i = 0; i < 40; ++i) {
    for (const std::string& text : corpus()) big += text;
  }
  const std::vector<int32_t> ids = t.encode(big);
  EXPECT_EQ(t.decode(ids), big);
  // A 200k-character run of one class (CJK for DeepSeek's second Split, spaces for every regex).
  std::string cjk;
  for (int i = 0; i < 50000; ++i) cjk += "中文字符";
  EXPECT_EQ(t.decode(t.encode(cjk)), cjk);
  const std::string spaces(200000, ' ');
  for (const std::string& name : tokenizer_names()) {
    const Tokenizer& tok = shared_tokenizer(name);
    EXPECT_EQ(tok.decode(tok.encode(spaces)), spaces) << name;
  }
}

// Tokenizers of tests/fixtures/tokenizer/variants.json, built the way make_goldens.mjs builds
// them, checked against the ids of the JS port or (variants with "oracle": "hf") of Hugging
// Face's Rust tokenizers.
TEST(Encode, VariantsMatchOracle) {
  const nlohmann::json variants =
      nlohmann::json::parse(read_file(testing::fixture_path("variants.json")));
  for (const auto& v : variants) {
    const std::string name = v["name"];
    nlohmann::json json, config;
    if (v.contains("base_variant")) {
      for (const auto& b : variants) {
        if (b["name"] == v["base_variant"]) {
          json = b["tokenizer"];
          config = b["config"];
        }
      }
    } else if (v.contains("base")) {
      json = nlohmann::json::parse(read_file(tokenizer_dir(v["base"]) + "/tokenizer.json"));
      config =
          nlohmann::json::parse(read_file(tokenizer_dir(v["base"]) + "/tokenizer_config.json"));
    } else {
      json = v["tokenizer"];
      config = v["config"];
    }
    if (v.contains("pre_tokenizer")) json["pre_tokenizer"] = v["pre_tokenizer"];
    if (v.contains("added_tokens_append")) {
      for (const auto& a : v["added_tokens_append"]) json["added_tokens"].push_back(a);
    }
    for (auto& a : json["added_tokens"]) {
      const std::string content = a["content"];
      if (v.contains("added_token_flags") && v["added_token_flags"].contains(content)) {
        a.update(v["added_token_flags"][content]);
      }
    }
    const Tokenizer t = Tokenizer::from_json(json.dump(), config.dump(), name);
    const auto& want = goldens()["variants"][name];
    ASSERT_EQ(want.size(), v["strings"].size()) << name;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(t.encode(v["strings"][i].get<std::string>()), want[i].get<std::vector<int32_t>>())
          << name << " " << v["strings"][i].dump();
    }
  }
}

// Hugging Face's documentation of SplitDelimiterBehavior (tokenizers pre_tokenizers.Split):
// "the-final--countdown" split on "-".
TEST(PreTokenize, SplitBehaviorsMatchHuggingFaceDocs) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"Removed", {"the", "final", "countdown"}},
      {"Isolated", {"the", "-", "final", "-", "-", "countdown"}},
      {"MergedWithPrevious", {"the-", "final-", "-", "countdown"}},
      {"MergedWithNext", {"the", "-final", "-", "-countdown"}},
      {"Contiguous", {"the", "-", "final", "--", "countdown"}},
  };
  for (const bool regex : {false, true}) {
    for (const auto& [behavior, want] : cases) {
      const nlohmann::json spec = {
          {"type", "Split"},
          {"pattern", regex ? nlohmann::json{{"Regex", "-"}} : nlohmann::json{{"String", "-"}}},
          {"behavior", behavior},
          {"invert", false}};
      const PreTokenizer p = PreTokenizer::from_json(spec, "test");
      std::string text = "the-final--countdown";
      std::vector<Piece> words;
      p.run(text, words);
      std::vector<std::string> got;
      for (const Piece& w : words) got.push_back(text.substr(w.begin, w.end - w.begin));
      EXPECT_EQ(got, want) << behavior;
    }
  }
}

TEST(PreTokenize, WhitespaceClassIsUnicodeWhiteSpace) {
  const std::string ws =
      "[\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
      "\\x{202F}\\x{205F}\\x{3000}]";
  EXPECT_EQ(translate_whitespace_classes("\\s+(?!\\S)"),
            ws + "+(?!" + ws.substr(0, 1) + "^" + ws.substr(1) + ")");
  EXPECT_EQ(translate_whitespace_classes("[^\\s\\p{L}]"),
            "[^" + ws.substr(1, ws.size() - 2) + "\\p{L}]");
  EXPECT_EQ(
      translate_whitespace_classes("\\\\s[]\\s][[:alpha:]\\s]"),
      "\\\\s[]" + ws.substr(1, ws.size() - 2) + "][[:alpha:]" + ws.substr(1, ws.size() - 2) + "]");
  EXPECT_EQ(translate_whitespace_classes("\\Q\\s\\E\\d"), "\\Q\\s\\E\\d");
  // Rust's char::is_whitespace, code point by code point, through a compiled \s.
  const Regex space("^\\s$");
  for (uint32_t cp = 0; cp < 0x3100; ++cp) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    std::string s;
    append_utf8(s, cp);
    std::vector<Piece> found;
    space.find_all(s, found);
    EXPECT_EQ(!found.empty(), is_whitespace(cp)) << std::hex << cp;
  }
}

TEST(PreTokenize, ByteLevelPrefixSpaceAndGpt2Regex) {
  const PreTokenizer p = PreTokenizer::from_json(
      {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}, "test");
  EXPECT_TRUE(p.byte_level());
  std::string text = "Hello world's  end";
  std::vector<Piece> words;
  p.run(text, words);
  std::vector<std::string> got;
  for (const Piece& w : words) got.push_back(text.substr(w.begin, w.end - w.begin));
  // GPT-2's pattern, documented in its encoder.py: contractions, " ?\p{L}+", "\s+(?!\S)".
  EXPECT_EQ(got, (std::vector<std::string>{" Hello", " world", "'s", " ", " end"}));
}

// A Tokenizer is shared by threads (the word cache is locked, PCRE2 scratch is per thread).
TEST(Encode, ConcurrentEncodesAgree) {
  const Tokenizer t = Tokenizer::load(tokenizer_dir("qwen2.5"));  // fresh: empty cache
  std::vector<std::vector<std::vector<int32_t>>> results(4);
  std::vector<std::thread> threads;
  for (size_t k = 0; k < results.size(); ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round) {
        results[k].clear();
        for (const std::string& text : corpus()) results[k].push_back(t.encode(text));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t k = 0; k < results.size(); ++k) {
    ASSERT_EQ(results[k].size(), corpus().size());
    for (size_t i = 0; i < corpus().size(); ++i) {
      EXPECT_EQ(results[k][i],
                goldens()["tokenizers"]["qwen2.5"]["ids"][i].get<std::vector<int32_t>>());
    }
  }
}

}  // namespace
}  // namespace r1::tok
