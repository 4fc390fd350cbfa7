#include <algorithm>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace r1::tok {

namespace {

// With clean-up on, text is held back from the first space among its last three characters:
// every clean_up_tokenization pattern starts with a space and has at most four characters, so no
// pattern (nor one that an earlier replacement creates: replacements only remove characters)
// can then span what was emitted and what follows, and cleaning the pieces equals cleaning the
// whole. Holding only a proper prefix of a pattern is not enough: " '" then " " makes " ' ".
size_t clean_up_hold(std::string_view text) {
  for (size_t k = std::min<size_t>(text.size(), 3); k >= 1; --k)  // the earliest space first
    if (text[text.size() - k] == ' ') return k;
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
