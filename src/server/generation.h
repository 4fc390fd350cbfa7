// One API request's generation: its prompts submitted to the engine, the engine's deltas turned
// into OpenAI objects, chat.completion(.chunk) with reasoning_content apart from content, or
// text_completion, with logprobs, finish reasons and usage.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "server/metrics.h"
#include "tokenizer/template/reasoning.h"
#include "tokenizer/tokenizer.h"

namespace r1::server {

enum class Endpoint { Chat, Completion };

struct GenerationSetup {
  Endpoint endpoint = Endpoint::Chat;
  std::string model;  // the name answered in "model"
  bool stream = false, include_usage = false;
  bool thinking = true;  // chat: output starts inside the reasoning
  bool echo = false;     // completions: the prompt text precedes each choice's text
  int top_logprobs = -1;
};

class Generation {
 public:
  Generation(runtime::Engine& engine, const tok::Tokenizer& tok, Metrics& metrics,
             GenerationSetup setup);
  ~Generation();  // cancels what is still running
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  // Submits one prompt (choices prompt_index * n + sample). Throws ApiError 429 when the
  // engine's queue is full, 400 for a request the engine refuses.
  void submit(runtime::GenRequest req, const std::string& echo_text = "");
  // Waits up to timeout for deltas and applies them; returns false once every choice finished.
  bool wait(std::chrono::milliseconds timeout);
  // Streaming: the SSE events ("data: ...\n\n") made from the deltas applied since the last
  // call; after the last choice finished, the usage chunk (if asked) and "data: [DONE]".
  std::string take_events();
  // Non-streaming: the whole response object, once wait() returned false.
  nlohmann::json response() const;
  // Set when a choice ended by an engine error or by shutdown (the response is that error).
  bool failed() const { return !error_.empty(); }
  nlohmann::json error_body() const;
  void cancel();

 private:
  struct Choice {
    tmpl::ReasoningStream split;
    std::string reasoning, content;  // chat
    std::string text;                // completions
    int64_t tokens = 0, reasoning_tokens = 0;
    std::vector<runtime::TokenLogprob> logprobs;
    std::vector<size_t> offsets;  // completions: each token's offset in text
    std::string finish;
    bool started = false;  // chat streaming: the role delta was sent
    double last_token_time = 0;
  };
  struct Pending {  // deltas handed over by the engine thread
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<size_t, runtime::SampleDelta>> deltas;  // (submission, delta)
    std::vector<double> times;
  };
  void apply(size_t submission, const runtime::SampleDelta& d, double t);
  nlohmann::json chunk_base() const;
  nlohmann::json logprobs_json(const std::vector<runtime::TokenLogprob>& lps,
                               const std::vector<size_t>& offsets) const;
  nlohmann::json usage() const;

  runtime::Engine& engine_;
  const tok::Tokenizer& tok_;
  Metrics& metrics_;
  GenerationSetup setup_;
  std::string id_;
  int64_t created_;
  double start_;
  std::shared_ptr<Pending> pending_;
  std::vector<std::shared_ptr<runtime::EngineTicket>> tickets_;
  std::vector<size_t> first_choice_;    // per submission: the index of its sample 0
  std::vector<int64_t> prompt_tokens_;  // per submission
  int64_t cached_tokens_ = 0;
  std::vector<Choice> choices_;
  size_t finished_ = 0;
  bool first_token_seen_ = false;
  std::string events_;  // streaming output not yet taken
  bool done_sent_ = false;
  std::string error_;
};

// A random id suffix (hex) for chatcmpl-/cmpl- ids.
std::string random_hex(size_t n);

}  // namespace r1::server
