// Added tokens ("added_tokens" of tokenizer.json): found in the text before pre-tokenization,
// leftmost-longest like Hugging Face's AddedVocabulary (Aho-Corasick, MatchKind::LeftmostLongest),
// with its lstrip / rstrip / single_word rules. Tokens with normalized=false are matched in the
// raw text, the others in the normalized text; one AddedTokenMatcher holds one of those sets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace r1::tok {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A run of text, or an added token, covering bytes [begin, end) of the matched text.
struct Segment {
  size_t begin;
  size_t end;
  int32_t token_id;  // -1 for plain text
};

class AddedTokenMatcher {
 public:
  void add(const AddedToken& token);
  bool empty() const { return tokens_.empty(); }
  // Cuts text into plain runs and added tokens; plain runs may be empty only if text is.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t token = -1;  // index into tokens_
  };
  // Longest token starting at pos (index into tokens_), or -1.
  int32_t longest_at(std::string_view text, size_t pos, size_t& length) const;
  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_{Node{}};
  bool first_byte_[256] = {};
};

}  // namespace r1::tok
