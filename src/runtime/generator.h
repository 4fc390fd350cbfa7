// Offline generation for r1 generate, r1 chat, r1 eval and reinforcement-learning rollouts: the
// requests of one call run on a serving Engine made for that call, so they are scheduled as a
// server schedules them (continuous batching, n samples of a prompt sharing its prefill, prompt
// prefixes shared between requests, chunked prefill of long prompts) and the caller waits for
// them. A new engine per call: between calls the weights may change (RL), and a cached prefix
// computed under the old weights must not be reused. The KV cache keeps f32 rows by default
// (exact scoring, reference-exact goldens); a request's tokens do not depend on what else runs
// beside it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "models/model.h"
#include "runtime/request.h"

namespace r1::runtime {

class Generator {
 public:
  // tokenizer may be null (then stop strings are not allowed and text stays empty). kv_dtype:
  // the KV cache's rows, F32 (exact) or BF16.
  Generator(models::Model& model, const tok::Tokenizer* tokenizer, std::vector<int32_t> eos_ids,
            DType kv_dtype = DType::F32);

  // Every request at once. One output per sample: request 0's n samples, then request 1's, and
  // so on. on_text(output index, text delta) receives text as it becomes final (complete UTF-8,
  // never a piece that could still begin a stop string), on the engine's thread. When *cancel
  // becomes true the unfinished samples end with finish_reason "cancelled".
  std::vector<GenOutput> run(const std::vector<GenRequest>& requests,
                             const TextCallback& on_text = {},
                             const std::atomic<bool>* cancel = nullptr);

  // At most max_running sequences at once; waiting requests join as sequences finish. Each
  // request's n (at most max_running) outputs go to on_done(request index, outputs) on the
  // caller's thread as soon as all of them are finished, so the caller's work on them (grading,
  // writing) overlaps the generation of the others.
  using DoneCallback = std::function<void(size_t, std::vector<GenOutput>&&)>;
  void run_each(const std::vector<GenRequest>& requests, int64_t max_running,
                const DoneCallback& on_done, const TextCallback& on_text = {},
                const std::atomic<bool>* cancel = nullptr);

  // Totals over every call.
  const GenStats& stats() const { return stats_; }

 private:
  models::Model& model_;
  const tok::Tokenizer* tok_;
  std::vector<int32_t> eos_;
  DType kv_dtype_;
  GenStats stats_;
};

}  // namespace r1::runtime
