// Splits R1 output into reasoning and answer, as DeepSeek's API (reasoning_content / content)
// and vLLM's deepseek_r1 reasoning parser do (docs/FACTS.md section 5):
// - the chat template already emitted "<think>\n", so the output normally starts inside the
//   reasoning; one "<think>" at the very start of the output (if the model emits it anyway) is
//   dropped;
// - text before the first "</think>" is reasoning, text after it is content (the tag itself is
//   in neither);
// - without "</think>" everything is reasoning (content empty).
// Nothing is trimmed: "\n\n" after "</think>" stays in the content, as in vLLM.
#pragma once

#include <string>
#include <string_view>

namespace r1::tmpl {

struct ReasoningSplit {
  std::string reasoning;
  std::string content;
};

// Whole-output version.
ReasoningSplit split_reasoning(std::string_view output);

// Streaming version: feed the text chunks of a streaming detokenizer in order; each call returns
// what can be emitted now. A chunk end that could be the start of "<think>" (at the very start) or
// "</think>" is held back until the next chunk decides it, so no part of a tag is ever emitted.
// The concatenated deltas of feed() and finish() equal split_reasoning() of the whole text for
// every way of splitting it into chunks.
class ReasoningStream {
 public:
  ReasoningStream() = default;
  // thinking = false: the prompt already closed an empty think block (a request that skips
  // thinking), so all output is content.
  explicit ReasoningStream(bool thinking) : state_(thinking ? State::Start : State::Content) {}
  ReasoningSplit feed(std::string_view chunk);
  // End of output: releases any held-back text (it was not a tag).
  ReasoningSplit finish();
  bool in_content() const { return state_ == State::Content; }

 private:
  enum class State { Start, Reasoning, Content };
  State state_ = State::Start;
  std::string held_;  // text not yet emitted (a possible tag prefix)
};

}  // namespace r1::tmpl
