// The serving engine: one thread owns the model and its KV cache and schedules token by token.
// Requests wait in a bounded queue; between forward passes they join the running batch (when
// sequence slots and KV memory allow) and leave it when they finish or are cancelled
// (continuous batching). Every step runs one forward pass holding one decode token of every
// running sequence plus prompt chunks of requests still prefilling, up to a token budget, so a
// long prompt is prefilled over several steps instead of stalling the streams already running.
// A request's n samples share its prefill (the cache slot is forked when the prompt is done), and
// requests share the cached blocks of identical prompt prefixes (KvCache's prefix caching): a
// prompt is prefilled only from the end of its longest cached prefix. With a KV memory budget, a
// request is admitted when its prompt fits beside the running ones; when a step would need more
// blocks than the cache can give, the newest request is preempted: its blocks are freed and it
// waits at the front of the queue, then feeds its reply so far again and continues exactly where
// it was (recomputation, as vLLM does by default).
// Outputs go to the request's callback on the engine thread, step by step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "models/model.h"
#include "runtime/request.h"

namespace r1::runtime {

struct EngineOptions {
  int64_t max_running = 16;     // sequences decoding at once (a request's n samples count n)
  int64_t max_waiting = 64;     // requests queued beyond that; submit() refuses more
  int64_t step_tokens = 256;    // tokens per forward pass: decode tokens first, then prefill
  int64_t kv_budget_bytes = 0;  // 0: no limit beyond the machine's memory
  DType kv_dtype = DType::F32;  // the KV cache's rows: F32 (exact) or BF16 (half the memory)
  // Prompt positions kept in blocks no sequence uses, for later prompts that share them; the
  // least recently used go first beyond it. -1: as many as the budget (or memory) allows.
  int64_t kv_cached_tokens = -1;
};

// The log-probability of a generated token and of the most likely alternatives, from the
// model's raw distribution softmax(logits) (before penalties, temperature and truncation).
struct TokenLogprob {
  int32_t id = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // most likely first
};

// What one sample of a request produced in one step.
struct SampleDelta {
  size_t sample = 0;                   // 0 .. n-1
  std::vector<int32_t> tokens;         // tokens sampled this step (end-of-sequence ids excluded)
  std::vector<TokenLogprob> logprobs;  // one per entry of tokens, when asked
  std::string text;                    // new final text (see OutputBuilder)
  std::string finish_reason;           // set on the sample's last delta
  // GenRequest::logprobs: the policy log-probability of each token sampled this step, the
  // end-of-sequence id that ended the sample included (see GenOutput::logprobs).
  std::vector<float> policy_logprobs;
  int32_t eos_token = -1;  // on the last delta: the end-of-sequence id that ended it, if one did
  std::string error;       // finish_reason "error": what went wrong
  std::exception_ptr exception;  // and the exception that said so
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens whose keys/values were reused
};

struct EngineRequest {
  GenRequest gen;
  int top_logprobs = -1;  // -1: no logprobs; k >= 0: the chosen token's and the k best
  // Called on the engine thread, in order, for every delta of every sample; must not block.
  std::function<void(const SampleDelta&)> on_delta;
};

// A submitted request as its submitter sees it.
class EngineTicket {
 public:
  // Ends the request at the next step: its unfinished samples end with finish_reason
  // "cancelled" and free their cache slots.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  std::atomic<bool> cancelled_{false};
};

struct EngineStats {
  int64_t waiting = 0;           // requests queued
  int64_t running = 0;           // sequences in the batch
  int64_t kv_blocks_used = 0;    // KV cache blocks referenced by sequences
  int64_t kv_blocks_cached = 0;  // blocks kept only for prefix reuse (evictable)
  int64_t kv_blocks_budget = 0;  // blocks the budget allows (0: unbounded)
  int64_t kv_block_size = 0;     // positions per block
  int64_t prompt_tokens = 0;     // totals since start
  int64_t generated_tokens = 0;
  int64_t cached_prompt_tokens = 0;
  int64_t steps = 0;
  // Forward passes: prompt tokens computed (cached prefixes excluded) and reply tokens fed back,
  // and the time each took (a step that holds both is shared in proportion to their tokens).
  int64_t prefilled_tokens = 0, decoded_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t preemptions = 0;  // requests sent back to the queue to free cache blocks
};

class Engine {
 public:
  Engine(models::Model& model, const tok::Tokenizer* tokenizer, std::vector<int32_t> eos,
         EngineOptions opt);
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Returns nullptr when the queue is full (the caller answers "busy").
  // Throws an Input error for a request that can never run (an empty prompt, a prompt longer
  // than the context, more samples than max_running).
  std::shared_ptr<EngineTicket> submit(EngineRequest r);
  // Ends every request (cancelled) and joins the engine thread. Idempotent.
  void stop();
  EngineStats stats() const;
  int64_t context() const { return context_; }
  const EngineOptions& options() const { return opt_; }

 private:
  struct Sample;
  struct Job;
  void loop();
  void admit();
  bool step();
  void finish_job_samples(Job& j, const std::string& reason);
  void end_unstarted(Job& j);
  void emit(Job& j, size_t s);
  TokenLogprob logprob_of(const float* z, int32_t token, int k);
  int64_t reserve_of(const Job& j) const;  // blocks, at most
  static bool ending(const Sample& sm);
  int64_t live_samples(const Job& j) const;
  bool all_done(const Job& j) const;
  void preempt(Job& j);
  int64_t plan(int64_t* blocks);

  models::Model& model_;
  const tok::Tokenizer* tok_;
  std::vector<int32_t> eos_;
  EngineOptions opt_;
  models::KvCache cache_;
  int64_t context_;
  int64_t vocab_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> waiting_;   // under mu_
  bool stopping_ = false;                      // under mu_
  EngineStats stats_;                          // under mu_
  std::vector<std::unique_ptr<Job>> running_;  // engine thread only
  int64_t running_seqs_ = 0;
  std::vector<float> row_;
  std::thread thread_;
};

}  // namespace r1::runtime
