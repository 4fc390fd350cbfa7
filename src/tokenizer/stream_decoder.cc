#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace r1::tok {

namespace {

// With clean-up on, a tail that may still become one of clean_up_tokenization's patterns
// (" ", " n", " n'", " '", " 'r", " 'v") is held back until the next token decides it.
size_t clean_up_hold(std::string_view text) {
  static constexpr std::string_view kPatterns[] = {" .",   " ?",  " !",  " ,",   " ' ",
                                                   " n't", " 'm", " 's", " 've", " 're"};
  const size_t space = text.rfind(' ');
  if (space == std::string_view::npos) return 0;
  const std::string_view tail = text.substr(space);
  for (const std::string_view p : kPatterns) {
    if (tail.size() < p.size() && p.substr(0, tail.size()) == tail) return tail.size();
  }
  return 0;
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::push(int32_t id) {
  const std::string bytes = tokenizer_->token_bytes(id, skip_special_);
  if (bytes.empty()) return {};
  if (tokenizer_->joins_with_spaces() && !first_) pending_ += ' ';
  first_ = false;
  pending_ += bytes;
  size_t ready = complete_utf8_prefix(pending_);
  if (tokenizer_->clean_up_spaces()) {
    ready -= clean_up_hold(std::string_view(pending_).substr(0, ready));
  }
  if (ready == 0) return {};
  std::string out = repair_utf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return tokenizer_->clean_up_spaces() ? clean_up_tokenization(std::move(out)) : out;
}

std::string StreamDecoder::flush() {
  std::string out = repair_utf8(pending_);
  pending_.clear();
  first_ = true;
  return tokenizer_->clean_up_spaces() ? clean_up_tokenization(std::move(out)) : out;
}

}  // namespace r1::tok
