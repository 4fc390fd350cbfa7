// Training data: SFT conversations and pretraining text turned into Examples, and the batcher
// that packs them into micro-batches in a seeded, resumable order.
//   SFT (JSONL): {"messages": [{role, content}, ...]} whose last message is the assistant's, or
//   {"prompt", "response"}. Every assistant turn is one example: its prompt is the chat
//   template's rendering of the messages before it with the generation prompt (exactly what
//   generation sees, so R1 templates drop earlier turns' reasoning as they do at inference); the
//   completion is the assistant content plus EOS. When the prompt ends with "<think>\n" (R1
//   templates add it) and the content starts with it, that prefix is not repeated. Loss on
//   completion tokens only.
//   Pretraining: .jsonl rows {"text"}, or plain text with one document per line. Documents are
//   joined with EOS into one stream and cut into windows of seq_len + 1 tokens; loss on all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

namespace r1::train {

struct DataStats {
  int64_t rows = 0, examples = 0, tokens = 0, targets = 0;
  int64_t too_long = 0;  // SFT replies longer than the sequence limit (left out, counted)
};

std::vector<Example> load_sft(const std::string& path, const tok::Tokenizer& tk,
                              const tmpl::ChatTemplate& chat, int64_t max_len, DataStats* stats);
std::vector<Example> load_pretrain(const std::string& path, const tok::Tokenizer& tk,
                                   int64_t seq_len, DataStats* stats);

// Walks the examples epoch after epoch, each epoch in its own seeded permutation, packing
// consecutive examples into micro-batches of at most batch_tokens tokens (at least one example).
// The position (epoch, cursor) is all there is to its state.
class Batcher {
 public:
  Batcher(const std::vector<Example>& examples, int64_t batch_tokens, uint64_t seed);
  std::vector<const Example*> next();
  int64_t epoch() const { return epoch_; }
  int64_t cursor() const { return cursor_; }
  void seek(int64_t epoch, int64_t cursor);
  // Micro-batches in one epoch (of the first epoch's order; others differ by a few at most).
  int64_t batches_per_epoch() const;

 private:
  void shuffle();
  const std::vector<Example>& ex_;
  int64_t batch_tokens_;
  uint64_t seed_;
  int64_t epoch_ = 0, cursor_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace r1::train
