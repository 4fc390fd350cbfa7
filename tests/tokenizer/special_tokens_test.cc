// encode(add_special_tokens=true), special ids and skip_special_tokens, against the facts of
// docs/FACTS.md section 3 and tests/fixtures/TOKENIZERS.md, and against the JS oracle for the
// tokenizers whose BOS comes from tokenizer.json's post_processor.
#include <gtest/gtest.h>

#include "tokenizer_test_util.h"

namespace r1::tok {
namespace {

using testing::corpus;
using testing::goldens;
using testing::shared_tokenizer;

std::vector<int32_t> with_prefix(int32_t first, std::vector<int32_t> ids) {
  ids.insert(ids.begin(), first);
  return ids;
}

TEST(SpecialTokens, R1IdsFromFacts) {
  const Tokenizer& t = shared_tokenizer("r1");
  EXPECT_EQ(t.bos_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_EQ(t.token_id("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(t.token_id("<｜end▁of▁sentence｜>"), 1);
  EXPECT_EQ(t.token_id("<｜User｜>"), 128803);
  EXPECT_EQ(t.token_id("<｜Assistant｜>"), 128804);
  EXPECT_EQ(t.token_id("<think>"), 128798);
  EXPECT_EQ(t.token_id("</think>"), 128799);
  EXPECT_EQ(t.token_text(128798), "<think>");
  EXPECT_EQ(t.token_id("no such token"), -1);
  EXPECT_TRUE(t.is_special(0));
  EXPECT_TRUE(t.is_special(1));
  EXPECT_EQ(t.vocab_size(), 128815);  // 128,000 BPE tokens + added ids up to 128814
}

TEST(SpecialTokens, DistillQwenIdsFromFacts) {
  const Tokenizer& t = shared_tokenizer("r1-distill-qwen");
  EXPECT_EQ(t.bos_id(), 151646);
  EXPECT_EQ(t.eos_id(), 151643);
  EXPECT_EQ(t.token_id("<｜User｜>"), 151644);
  EXPECT_EQ(t.token_id("<｜Assistant｜>"), 151645);
  EXPECT_EQ(t.token_id("<|EOT|>"), 151647);
  EXPECT_EQ(t.token_id("<think>"), 151648);
  EXPECT_EQ(t.token_id("</think>"), 151649);
  EXPECT_TRUE(t.is_special(151643));
  // User/Assistant and the think tags are added tokens with special=false: they survive
  // skip_special_tokens.
  for (int32_t id : {151644, 151645, 151648, 151649}) EXPECT_FALSE(t.is_special(id)) << id;
  const std::string text = "<｜User｜>hi<｜Assistant｜><think>\nhmm</think>ok<｜end▁of▁sentence｜>";
  EXPECT_EQ(t.decode(t.encode(text), true), "<｜User｜>hi<｜Assistant｜><think>\nhmm</think>ok");
  EXPECT_EQ(t.decode(t.encode(text), false), text);
}

// DeepSeek-V3 and R1 are LlamaTokenizerFast with add_bos_token true: transformers prepends BOS 0
// (README note), although tokenizer.json's post_processor adds nothing. add_eos_token is false.
TEST(SpecialTokens, DeepSeekAddsBosFromTokenizerConfig) {
  for (const std::string name : {"r1", "deepseek-v3"}) {
    const Tokenizer& t = shared_tokenizer(name);
    for (size_t i = 0; i < 40; ++i) {
      EXPECT_EQ(t.encode(corpus()[i], true), with_prefix(0, t.encode(corpus()[i], false)))
          << name << " corpus[" << i << "]";
    }
    EXPECT_EQ(t.encode("", true), std::vector<int32_t>{0});
  }
}

// Llama 3.1 (TemplateProcessing), R1-Distill-Qwen (TemplateProcessing, and LlamaTokenizerFast
// with add_bos_token: still one BOS, 151646) and Qwen2.5 (no BOS) agree with the oracle.
TEST(SpecialTokens, PostProcessorMatchesOracle) {
  for (const std::string name : {"llama3.1", "r1-distill-qwen", "qwen2.5"}) {
    const Tokenizer& t = shared_tokenizer(name);
    const auto& want = goldens()["with_special_first_40"][name];
    for (size_t i = 0; i < 40; ++i) {
      EXPECT_EQ(t.encode(corpus()[i], true), want[i].get<std::vector<int32_t>>())
          << name << " corpus[" << i << "]";
    }
  }
  EXPECT_EQ(shared_tokenizer("llama3.1").bos_id(), 128000);
  EXPECT_EQ(shared_tokenizer("llama3.1").eos_id(),
            shared_tokenizer("llama3.1").token_id("<|eot_id|>"));
  EXPECT_EQ(shared_tokenizer("qwen2.5").bos_id(), -1);
  EXPECT_EQ(shared_tokenizer("qwen2.5").eos_id(),
            shared_tokenizer("qwen2.5").token_id("<|im_end|>"));
}

TEST(SpecialTokens, SkipSpecialTokensDropsOnlySpecialOnes) {
  const Tokenizer& t = shared_tokenizer("r1");
  const std::string text =
      "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n4</think>4";
  const std::vector<int32_t> ids = t.encode(text);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(t.decode(ids), text);
  std::string kept;
  for (int32_t id : ids) {
    if (!t.is_special(id)) kept += t.token_text(id);
  }
  EXPECT_EQ(t.decode(ids, true), kept);
  EXPECT_EQ(t.decode(ids, true).find("begin▁of▁sentence"), std::string::npos);
}

TEST(SpecialTokens, ConfigIsExposed) {
  EXPECT_EQ(shared_tokenizer("r1").config().value("tokenizer_class", ""), "LlamaTokenizerFast");
  EXPECT_TRUE(shared_tokenizer("llama3.1").clean_up_spaces());
  EXPECT_FALSE(shared_tokenizer("r1").clean_up_spaces());
}

}  // namespace
}  // namespace r1::tok
