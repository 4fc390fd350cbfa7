// Bad or unsupported input is an r1::Error of kind Input whose message names the file and the
// field or component; added-token single_word follows Hugging Face's documented example.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file_util.h"
#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace r1::tok {
namespace {

// The tiny character-level tokenizer of variants.json, to modify.
nlohmann::json tiny() {
  const nlohmann::json variants =
      nlohmann::json::parse(read_file(testing::fixture_path("variants.json")));
  for (const auto& v : variants) {
    if (v["name"] == "tiny-char") return v["tokenizer"];
  }
  ADD_FAILURE() << "tiny-char missing";
  return {};
}

// Expects from_json to fail with an Input error mentioning every string of `words`.
void expect_input_error(const nlohmann::json& json, const std::vector<std::string>& words,
                        const std::string& text = "") {
  try {
    Tokenizer::from_json(text.empty() ? json.dump() : text, "", "models/x");
    ADD_FAILURE() << "no error for " << json.dump().substr(0, 200);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    for (const std::string& w : words) {
      EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what() << " lacks " << w;
    }
  }
}

TEST(Errors, InconsistentVocabulariesAreRefused) {
  nlohmann::json j = tiny();
  j["model"]["vocab"] = nlohmann::json::object();
  j["model"]["merges"] = nlohmann::json::array();
  j["model"].erase("unk_token");
  expect_input_error(j, {"models/x/tokenizer.json", "model.vocab is empty"});
  j = tiny();
  j["model"]["vocab"]["hello"] = 3;  // "c" has id 3 already
  expect_input_error(j, {"gives id 3 to two tokens"});
  j = tiny();
  j["model"]["merges"] = nlohmann::json::array();  // "ab", "abc", ... can never be made
  expect_input_error(j, {"model.merges is missing or empty"});
  j = tiny();
  j["model"].erase("merges");
  expect_input_error(j, {"model.merges is missing or empty"});
  j = tiny();
  j["added_tokens"] = {{{"id", 4}, {"content", "<tool>"}, {"special", true}}};  // 4 is "ab"
  expect_input_error(j, {"added_tokens[0]", "gives id 4 to \"<tool>\"", "\"ab\""});
  j = tiny();
  j["added_tokens"] = {{{"id", 1000000}, {"content", "<far>"}, {"special", true}}};
  expect_input_error(j, {"ids 10..999999 are not named by any token"});
  // An added token naming its own vocab entry (as DeepSeek's BOS does) and one right after the
  // vocab are consistent.
  j = tiny();
  j["added_tokens"] = {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                       {{"id", 10}, {"content", "<eos>"}, {"special", true}}};
  EXPECT_EQ(Tokenizer::from_json(j.dump(), "", "x").vocab_size(), 11);
}

TEST(Errors, RegexResourceLimitsAreInputErrors) {
  // A pre-tokenizer regex that backtracks exponentially: PCRE2 gives up at its match limit, and
  // that is the input's fault (one clear error), not r1's.
  nlohmann::json j = tiny();
  j["pre_tokenizer"] = {{"type", "Split"},
                        {"pattern", {{"Regex", "(a|aa)+$"}}},
                        {"behavior", "Isolated"},
                        {"invert", false}};
  const Tokenizer t = Tokenizer::from_json(j.dump(), "", "x");
  EXPECT_EQ(t.encode("aab").size(), 2u);  // no match: "aab" is one word, a + ab
  try {
    t.encode(std::string(200, 'a') + "b");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("pre-tokenizer regex gives up"), std::string::npos)
        << e.what();
  }
}

TEST(Errors, UnsupportedComponentsAreNamed) {
  nlohmann::json j = tiny();
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_input_error(j, {"models/x/tokenizer.json", "normalizer", "Lowercase"});
  j = tiny();
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", {{{"type", "NFC"}}, {{"type", "NFKC"}}}}};
  expect_input_error(j, {"normalizers[1]", "NFKC"});
  j = tiny();
  j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}};
  expect_input_error(j, {"pre_tokenizer", "Metaspace"});
  j = tiny();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_input_error(j, {"decoder", "WordPiece"});
  j = tiny();
  j["post_processor"] = {{"type", "Fancy"}};
  expect_input_error(j, {"post_processor", "Fancy"});
  j = tiny();
  j["model"]["type"] = "Unigram";
  expect_input_error(j, {"model.type", "Unigram"});
  j = tiny();
  j["model"]["byte_fallback"] = true;
  expect_input_error(j, {"byte_fallback"});
  j = tiny();
  j["model"]["continuing_subword_prefix"] = "##";
  expect_input_error(j, {"continuing_subword_prefix"});
  j = tiny();
  j["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_input_error(j, {"(unclosed", "compile"});
  j = tiny();
  j["pre_tokenizer"]["behavior"] = "Sideways";
  expect_input_error(j, {"behavior", "Sideways"});
  j = tiny();
  j["pre_tokenizer"] = {{"type", "Sequence"},
                        {"pretokenizers", {{{"type", "ByteLevel"}}, {{"type", "ByteLevel"}}}}};
  expect_input_error(j, {"pretokenizers[1]", "ByteLevel"});
}

TEST(Errors, MalformedModelsAreNamed) {
  nlohmann::json j = tiny();
  j["model"]["merges"].push_back("a zz");
  expect_input_error(j, {"model.merges[4]", "zz"});
  j = tiny();
  j["model"]["merges"].push_back("abc");
  expect_input_error(j, {"model.merges[4]"});
  j = tiny();
  j["model"]["unk_token"] = "<nope>";
  expect_input_error(j, {"unk_token", "<nope>"});
  j = tiny();
  j["model"]["vocab"]["q"] = -3;
  expect_input_error(j, {"model.vocab", "q"});
  j = tiny();
  j.erase("model");
  expect_input_error(j, {"model is missing"});
  j = tiny();
  j["model"]["vocab"] = nlohmann::json::array({nlohmann::json::array({"a", -1.5})});
  expect_input_error(j, {"model.vocab", "expected an object"});
  j = tiny();
  j["model"]["merges"] = "a b";
  expect_input_error(j, {"model.merges", "expected an array"});
  j = tiny();
  j["added_tokens"] = {{{"content", "x"}}};
  expect_input_error(j, {"added_tokens[0]"});
  expect_input_error({}, {"models/x/tokenizer.json", "invalid JSON"},
                     "{\"model\": {\"vocab\": {\"a\": 1,");
  expect_input_error({}, {"invalid JSON"}, "[1, 2]");
  expect_input_error({}, {"trailing"}, tiny().dump() + " x");
  expect_input_error({}, {"surrogate"}, "{\"model\": {\"vocab\": {\"\\ud800\": 1}}}");
}

TEST(Errors, MissingFolderAndBadConfig) {
  try {
    Tokenizer::load("/nonexistent/model");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model/tokenizer.json"), std::string::npos);
  }
  try {
    Tokenizer::from_json(tiny().dump(), "{not json", "models/x");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json"), std::string::npos);
  }
  // A Llama-class config asking for a BOS that does not exist.
  try {
    Tokenizer::from_json(tiny().dump(), R"({"tokenizer_class": "LlamaTokenizerFast"})", "models/x");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add_bos_token"), std::string::npos);
  }
}

// Hugging Face's AddedToken documentation: with single_word, "ing" matches in "ing" but not
// inside "tokenizing".
TEST(AddedTokens, SingleWord) {
  nlohmann::json j = tiny();
  j["model"]["vocab"]["g"] = 10;
  j["model"]["vocab"]["n"] = 11;
  j["added_tokens"] = {{{"id", 12},
                        {"content", "ing"},
                        {"single_word", true},
                        {"lstrip", false},
                        {"rstrip", false},
                        {"normalized", false},
                        {"special", false}}};
  const Tokenizer t = Tokenizer::from_json(j.dump(), "", "tiny");
  const auto has_ing = [&](const std::string& s) {
    const auto ids = t.encode(s);
    return std::find(ids.begin(), ids.end(), 12) != ids.end();
  };
  EXPECT_FALSE(has_ing("tokenizing"));
  EXPECT_FALSE(has_ing("ingot"));
  EXPECT_TRUE(has_ing("ing"));
  EXPECT_TRUE(has_ing("go ing now"));
  EXPECT_TRUE(has_ing("(ing)"));
  j["added_tokens"][0]["single_word"] = false;
  const Tokenizer loose = Tokenizer::from_json(j.dump(), "", "tiny");
  const auto ids = loose.encode("tokenizing");
  EXPECT_NE(std::find(ids.begin(), ids.end(), 12), ids.end());
}

// transformers makes the config's named special tokens special for skip_special_tokens.
TEST(AddedTokens, ConfigSpecialTokensAreSkipped) {
  const nlohmann::json j = tiny();
  const Tokenizer plain = Tokenizer::from_json(j.dump(), "", "tiny");
  const Tokenizer named = Tokenizer::from_json(
      j.dump(), R"({"eos_token": "hi", "additional_special_tokens": ["bc"]})", "tiny");
  EXPECT_EQ(named.eos_id(), plain.token_id("hi"));
  EXPECT_FALSE(plain.is_special(plain.token_id("hi")));
  EXPECT_TRUE(named.is_special(named.token_id("hi")));
  EXPECT_TRUE(named.is_special(named.token_id("bc")));
  const std::vector<int32_t> ids = named.encode("abc hi");
  EXPECT_EQ(named.decode(ids, false), plain.decode(ids, false));
  EXPECT_EQ(named.decode(ids, true), plain.decode({plain.token_id("a")}, false));
}

}  // namespace
}  // namespace r1::tok

namespace r1::tok {
namespace {

// Random byte mutations of a valid tokenizer.json: loading either succeeds or throws an Input
// error, never crashes or throws anything else; encoding random bytes never fails.
TEST(Fuzz, MutatedTokenizerJsonAndRandomText) {
  const std::string base = tiny().dump();
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return uint32_t(state >> 33);
  };
  const char alphabet[] = "{}[]\":,\\ 0123456789-abcnulltruefalse\x80\xff";
  size_t loaded = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = base;
    for (int k = 1 + next() % 4; k > 0; --k) {
      const size_t pos = next() % text.size();
      switch (next() % 3) {
        case 0:
          text[pos] = alphabet[next() % (sizeof(alphabet) - 1)];
          break;
        case 1:
          text.erase(pos, 1 + next() % 8);
          break;
        default:
          text.insert(pos, 1, alphabet[next() % (sizeof(alphabet) - 1)]);
          break;
      }
    }
    try {
      const Tokenizer t = Tokenizer::from_json(text, "", "fuzz");
      std::string input;
      for (int n = next() % 40; n > 0; --n) input += char(next() % 256);
      t.decode(t.encode(input, true));
      ++loaded;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Input) << e.what();
    }
  }
  EXPECT_GT(loaded, 0u);
  const Tokenizer& r1 = testing::shared_tokenizer("r1");
  for (int i = 0; i < 2000; ++i) {
    std::string input;
    for (int n = next() % 64; n > 0; --n) input += char(next() % 256);
    const std::string text = r1.decode(r1.encode(input, true), false);
    EXPECT_EQ(text, repair_utf8(input).insert(0, "<｜begin▁of▁sentence｜>"));
  }
}

}  // namespace
}  // namespace r1::tok
