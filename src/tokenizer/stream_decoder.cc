#include <algorithm>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace r1::tok {

namespace {

// With clean-up on, only a prefix whose last three characters hold no space is released: every
// clean_up_tokenization pattern starts with a space and has at most four characters, so no
// pattern can then span what was released and what follows (replacements only remove
// characters, and never the three space-free ones at the end), and cleaning the pieces equals
// cleaning the whole. Returns how many trailing bytes to hold. Holding only a partial pattern is
// not enough: " '" then " '" contain " ' ".
size_t clean_up_hold(std::string_view text) {
  size_t cut = text.size();
  auto clear = [&](size_t c) {
    for (size_t k = 1; k <= 3 && k <= c; ++k)
      if (text[c - k] == ' ') return false;
    return true;
  };
  while (cut > 0 && !clear(cut)) --cut;
  return text.size() - cut;
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
