// Decoding: the streaming decoder emits only complete UTF-8, clean_up_tokenization_spaces.
#include <gtest/gtest.h>

#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace r1::tok {
namespace {

using testing::shared_tokenizer;
using testing::tokenizer_names;

// The byte-level token of each byte of s, so a character is split into one token per byte.
std::vector<int32_t> byte_tokens(const Tokenizer& t, std::string_view s) {
  std::vector<int32_t> ids;
  for (const char c : s) ids.push_back(t.token_id(byte_level_alphabet().byte_to_utf8[uint8_t(c)]));
  return ids;
}

TEST(StreamDecoder, EmitsACharacterOnlyWhenAllItsBytesArrived) {
  for (const std::string& name : tokenizer_names()) {
    const Tokenizer& t = shared_tokenizer(name);
    StreamDecoder stream(t);
    const std::vector<int32_t> ids = byte_tokens(t, "😀");
    ASSERT_EQ(ids.size(), 4u);
    EXPECT_EQ(stream.push(ids[0]), "");
    EXPECT_EQ(stream.push(ids[1]), "");
    EXPECT_EQ(stream.push(ids[2]), "");
    EXPECT_EQ(stream.push(ids[3]), "😀");
    EXPECT_EQ(stream.flush(), "");
    // A CJK character split after its first byte, followed by ASCII.
    const std::vector<int32_t> cjk = byte_tokens(t, "中a");
    EXPECT_EQ(stream.push(cjk[0]), "");
    EXPECT_EQ(stream.push(cjk[1]), "");
    EXPECT_EQ(stream.push(cjk[2]), "中");
    EXPECT_EQ(stream.push(cjk[3]), "a");
  }
}

TEST(StreamDecoder, ZwjEmojiAndCjkFromRealEncodings) {
  const std::string text =
      "Family 👨‍👩‍👧‍👦 says 你好世界 and 🇯🇵🏳️‍🌈 — fin";
  for (const std::string& name : tokenizer_names()) {
    const Tokenizer& t = shared_tokenizer(name);
    const std::vector<int32_t> ids = t.encode(text);
    size_t partial_tokens = 0;
    for (const int32_t id : ids)
      partial_tokens += valid_utf8_prefix(t.token_text(id)) != t.token_text(id).size();
    EXPECT_GT(partial_tokens, 0u) << name << ": the text should split some character";
    StreamDecoder stream(t);
    std::string out;
    for (const int32_t id : ids) {
      const std::string piece = stream.push(id);
      EXPECT_EQ(valid_utf8_prefix(piece), piece.size()) << name;
      out += piece;
    }
    out += stream.flush();
    EXPECT_EQ(out, t.decode(ids)) << name;
  }
}

TEST(StreamDecoder, FlushTurnsAnUnfinishedCharacterIntoReplacement) {
  const Tokenizer& t = shared_tokenizer("qwen2.5");
  StreamDecoder stream(t);
  const std::vector<int32_t> ids = byte_tokens(t, "😀");
  stream.push(ids[0]);
  stream.push(ids[1]);
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(t.decode({ids[0], ids[1]}), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.push(t.token_id("hello")), "hello");  // usable again after flush
}

TEST(StreamDecoder, SkipsSpecialTokensWhenAsked) {
  const Tokenizer& t = shared_tokenizer("r1");
  const std::vector<int32_t> ids = t.encode("<｜begin▁of▁sentence｜>hi<think>x</think>", false);
  StreamDecoder stream(t, true);
  std::string out;
  for (int32_t id : ids) out += stream.push(id);
  out += stream.flush();
  EXPECT_EQ(out, "hi<think>x</think>");
  EXPECT_EQ(out, t.decode(ids, true));
}

// Llama 3.1 sets clean_up_tokenization_spaces: transformers then removes the space before
// punctuation and contractions in decoded text (its clean_up_tokenization), streaming included.
TEST(Decode, CleanUpTokenizationSpaces) {
  const Tokenizer& t = shared_tokenizer("llama3.1");
  const std::string text = "Hello , world ! Is n't it ? I 'm sure .";
  const std::vector<int32_t> ids = t.encode(text);
  EXPECT_EQ(t.decode(ids), clean_up_tokenization(text));
  EXPECT_EQ(clean_up_tokenization(text), "Hello, world! Isn't it? I'm sure.");
  StreamDecoder stream(t);
  std::string out;
  for (int32_t id : ids) out += stream.push(id);
  out += stream.flush();
  EXPECT_EQ(out, t.decode(ids));
  // Without clean-up the text comes back as is.
  EXPECT_EQ(shared_tokenizer("r1").decode(shared_tokenizer("r1").encode(text)), text);
}

TEST(Decode, UnknownIdsAreSkipped) {
  const Tokenizer& t = shared_tokenizer("r1");
  const std::vector<int32_t> hi = t.encode("hi");
  std::vector<int32_t> ids = {-5, int32_t(t.vocab_size()), 999999999};
  ids.insert(ids.end(), hi.begin(), hi.end());
  EXPECT_EQ(t.decode(ids), "hi");
  EXPECT_EQ(t.token_text(-1), "");
  EXPECT_EQ(t.token_text(int32_t(t.vocab_size())), "");
  EXPECT_FALSE(t.is_special(-1));
}

}  // namespace
}  // namespace r1::tok
