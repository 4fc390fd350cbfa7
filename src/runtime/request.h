// A generation request and what it produced: the prompt, sampling and limits of one request
// (its n samples), and the OutputBuilder that turns sampled tokens into a reply (end-of-sequence
// ids, stop strings, max_tokens and the context, streamed text). The Engine, the Generator and
// speculative decoding share them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace r1::runtime {

struct GenRequest {
  std::vector<int32_t> prompt;
  SamplingParams sampling;  // its seed alone decides the draws: batching does not change them
  int64_t max_tokens = 256;
  std::vector<std::string> stop;  // stop strings (need a tokenizer)
  // Samples of this prompt: the prompt is prefilled once and its cache forked for each. Sample j
  // draws with seed sampling.seed + j, so it is the same sample as a request of that seed alone.
  int64_t n = 1;
  // Record the log-probability of each sampled token under softmax(logits / temperature) (the
  // whole distribution, before top-k/top-p/min-p and penalties), from the forward that sampled
  // it: the "old" policy of a policy-gradient step. Temperature 0 counts as 1.
  bool logprobs = false;
  // Sample past end-of-sequence ids as ordinary tokens (benchmarks: fixed-length replies).
  bool ignore_eos = false;
};

struct GenOutput {
  std::vector<int32_t> tokens;  // generated ids (the end-of-sequence id is not included)
  int32_t eos_token = -1;       // the end-of-sequence id that ended it, if one did
  // When the request asked (GenRequest::logprobs): one per token of `tokens`, then one for
  // eos_token if there is one.
  std::vector<float> logprobs;
  std::string text;           // decoded text, cut before a stop string
  std::string finish_reason;  // "stop" (eos or stop string), "length", or "cancelled"
  int64_t prompt_tokens = 0;
};

struct GenStats {
  int64_t prefill_tokens = 0, decode_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
};

using TextCallback = std::function<void(size_t, const std::string&)>;

// Turns one request's sampled tokens into its GenOutput: end-of-sequence ids, stop strings (the
// text is cut before one), max_tokens and the context (prompt + reply at most `context` tokens),
// and streamed text that is final (complete UTF-8, never a piece that could still begin a stop
// string).
class OutputBuilder {
 public:
  OutputBuilder(const GenRequest& r, const tok::Tokenizer* tokenizer,
                const std::vector<int32_t>* eos, size_t index, const TextCallback* on_text,
                int64_t context);
  // Appends a sampled token; returns false once the sequence has finished.
  bool push(int32_t token);
  void finish(const std::string& reason);  // e.g. "cancelled"
  bool done() const { return !out_.finish_reason.empty(); }
  GenOutput& out() { return out_; }

 private:
  const GenRequest* r_;
  const std::vector<int32_t>* eos_;
  size_t index_;
  const TextCallback* on_text_;
  std::unique_ptr<tok::StreamDecoder> decoder_;
  size_t emitted_ = 0;  // bytes of out_.text already passed to on_text
  int64_t limit_ = 0;   // tokens this reply may have: max_tokens, or less if the context is full
  GenOutput out_;
};

// Length of the longest suffix of text that is a proper prefix of some stop string.
size_t stop_holdback(const std::string& text, const std::vector<std::string>& stops);

}  // namespace r1::runtime
