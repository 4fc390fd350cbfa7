#include "tokenizer/added_tokens.h"

#include "tokenizer/unicode.h"

namespace r1::tok {

namespace {

// Code point that ends text[0, end), or 0 if none. Precondition: valid UTF-8.
uint32_t code_point_before(std::string_view text, size_t end) {
  if (end == 0) return 0;
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return next_code_point(text, start);
}

}  // namespace

void AddedTokenMatcher::add(const AddedToken& token) {
  if (token.content.empty()) return;
  const int32_t index = int32_t(tokens_.size());
  tokens_.push_back(token);
  int32_t node = 0;
  for (const char ch : token.content) {
    const auto c = static_cast<unsigned char>(ch);
    int32_t child = -1;
    for (const auto& [byte, target] : nodes_[node].children) {
      if (byte == c) child = target;
    }
    if (child < 0) {
      child = int32_t(nodes_.size());
      nodes_[node].children.emplace_back(c, child);
      nodes_.emplace_back();
    }
    node = child;
  }
  if (nodes_[node].token < 0) nodes_[node].token = index;  // the first definition wins
  first_byte_[static_cast<unsigned char>(token.content[0])] = true;
}

int32_t AddedTokenMatcher::longest_at(std::string_view text, size_t pos, size_t& length) const {
  int32_t node = 0, best = -1;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    int32_t child = -1;
    for (const auto& [byte, target] : nodes_[node].children) {
      if (byte == c) {
        child = target;
        break;
      }
    }
    if (child < 0) break;
    node = child;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      length = i + 1 - pos;
    }
  }
  return best;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  size_t plain_start = 0;  // start of the plain run not yet emitted
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t length = 0;
    const int32_t index = longest_at(text, pos, length);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t start = pos, stop = pos + length;
    if (token.single_word) {
      const bool word_before = start > 0 && is_alphanumeric(code_point_before(text, start));
      size_t after = stop;
      const bool word_after = stop < text.size() && is_alphanumeric(next_code_point(text, after));
      if (word_before || word_after) {  // rejected; the search resumes after it, as in HF
        pos = stop;
        continue;
      }
    }
    if (token.lstrip) {
      while (start > plain_start) {
        size_t prev = start - 1;
        while (prev > 0 && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
        size_t probe = prev;
        if (!is_whitespace(next_code_point(text, probe))) break;
        start = prev;
      }
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        size_t probe = stop;
        if (!is_whitespace(next_code_point(text, probe))) break;
        stop = probe;
      }
    }
    if (plain_start < start) out.push_back({plain_start, start, -1});
    out.push_back({start, stop, token.id});
    plain_start = pos = stop;
  }
  if (plain_start < text.size() || text.empty()) out.push_back({plain_start, text.size(), -1});
}

}  // namespace r1::tok
