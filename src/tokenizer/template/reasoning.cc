#include "tokenizer/template/reasoning.h"

#include <algorithm>

namespace r1::tmpl {

namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest proper prefix of tag that s ends with.
size_t partial_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

}  // namespace

ReasoningSplit split_reasoning(std::string_view output) {
  if (output.substr(0, kOpen.size()) == kOpen) output.remove_prefix(kOpen.size());
  ReasoningSplit r;
  size_t close = output.find(kClose);
  if (close == std::string_view::npos) {
    r.reasoning = std::string(output);
    return r;
  }
  r.reasoning = std::string(output.substr(0, close));
  r.content = std::string(output.substr(close + kClose.size()));
  return r;
}

ReasoningSplit ReasoningStream::feed(std::string_view chunk) {
  ReasoningSplit out;
  held_ += chunk;
  if (state_ == State::Start) {
    if (held_.size() < kOpen.size() && kOpen.substr(0, held_.size()) == held_) return out;
    if (held_.compare(0, kOpen.size(), kOpen) == 0) held_.erase(0, kOpen.size());
    state_ = State::Reasoning;
  }
  if (state_ == State::Reasoning) {
    size_t close = held_.find(kClose);
    if (close == std::string::npos) {
      size_t keep = partial_suffix(held_, kClose);
      out.reasoning = held_.substr(0, held_.size() - keep);
      held_.erase(0, held_.size() - keep);
      return out;
    }
    out.reasoning = held_.substr(0, close);
    held_.erase(0, close + kClose.size());
    state_ = State::Content;
  }
  out.content += held_;
  held_.clear();
  return out;
}

ReasoningSplit ReasoningStream::finish() {
  ReasoningSplit out;
  if (state_ == State::Content)
    out.content = held_;
  else
    out.reasoning = held_;
  held_.clear();
  state_ = State::Reasoning;
  return out;
}

}  // namespace r1::tmpl
