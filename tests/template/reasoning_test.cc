// The reasoning parser against docs/FACTS.md section 5 (DeepSeek API / vLLM deepseek_r1), and the
// streaming version against the whole-text version for every way of cutting the text.
#include <gtest/gtest.h>

#include "tokenizer/template/reasoning.h"

namespace r1::tmpl {
namespace {

const std::vector<std::string> kOutputs = {
    "",
    "plain reasoning without an end tag",
    "I think.\n</think>\n\nThe answer is 4.",
    "<think>\nreasoning\n</think>\n\nanswer",
    "<think></think>",
    "</think>",
    "a</think>b</think>c",
    "<thi",
    "</thin",
    "x</thin",
    "<<think>x</</think>y<",
    "reasoning < and </ and </t but no tag",
    "\n<think>not at start</think>after",
    "ünï 🙂</think>🙂 done",
};

TEST(Reasoning, SplitFollowsVllmDeepseekR1) {
  EXPECT_EQ(split_reasoning("I think.\n</think>\n\nThe answer").reasoning, "I think.\n");
  EXPECT_EQ(split_reasoning("I think.\n</think>\n\nThe answer").content, "\n\nThe answer");
  EXPECT_EQ(split_reasoning("<think>\nr</think>c").reasoning, "\nr");
  EXPECT_EQ(split_reasoning("<think>\nr</think>c").content, "c");
  EXPECT_EQ(split_reasoning("no end tag").reasoning, "no end tag");
  EXPECT_EQ(split_reasoning("no end tag").content, "");
  EXPECT_EQ(split_reasoning("a</think>b</think>c").content, "b</think>c");
  EXPECT_EQ(split_reasoning("x<think>y</think>z").reasoning, "x<think>y");
}

ReasoningSplit stream(const std::vector<std::string>& chunks) {
  ReasoningStream s;
  ReasoningSplit all;
  for (const auto& c : chunks) {
    ReasoningSplit d = s.feed(c);
    if (!d.reasoning.empty()) {
      EXPECT_TRUE(all.content.empty()) << "reasoning after content";
    }
    all.reasoning += d.reasoning;
    all.content += d.content;
  }
  ReasoningSplit d = s.finish();
  all.reasoning += d.reasoning;
  all.content += d.content;
  return all;
}

TEST(Reasoning, StreamingMatchesWholeTextAtEverySplit) {
  for (const auto& text : kOutputs) {
    ReasoningSplit want = split_reasoning(text);
    for (size_t i = 0; i <= text.size(); ++i) {
      for (size_t j = i; j <= text.size(); ++j) {
        ReasoningSplit got = stream({text.substr(0, i), text.substr(i, j - i), text.substr(j)});
        ASSERT_EQ(got.reasoning, want.reasoning) << text << " cut at " << i << "," << j;
        ASSERT_EQ(got.content, want.content) << text << " cut at " << i << "," << j;
      }
    }
    std::vector<std::string> bytes;
    for (char c : text) bytes.emplace_back(1, c);
    ReasoningSplit got = stream(bytes);
    EXPECT_EQ(got.reasoning, want.reasoning) << text;
    EXPECT_EQ(got.content, want.content) << text;
  }
}

TEST(Reasoning, StreamingNeverEmitsPartOfASplitTag) {
  ReasoningStream s;
  EXPECT_EQ(s.feed("Let me think</").reasoning, "Let me think");
  EXPECT_EQ(s.feed("thi").reasoning, "");
  ReasoningSplit d = s.feed("nk>\n\nAns");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "\n\nAns");
  EXPECT_TRUE(s.in_content());
  EXPECT_EQ(s.feed("</think>").content, "</think>");
}

TEST(Reasoning, StreamingReleasesAFalseAlarm) {
  ReasoningStream s;
  EXPECT_EQ(s.feed("<th").reasoning, "");
  EXPECT_EQ(s.feed("ink>a </thi").reasoning, "a ");
  EXPECT_EQ(s.feed("s").reasoning, "</this");
  EXPECT_EQ(s.feed("</").reasoning, "");
  EXPECT_EQ(s.finish().reasoning, "</");
}

}  // namespace
}  // namespace r1::tmpl
