// The rollout-and-grade loop shared by `r1 eval` and reinforcement learning: problems rendered as
// prompts, k samples of each generated on the serving engine (runtime::Generator: one prefill per
// prompt, its cache shared by the samples; up to `batch` sequences decode together and a finished
// one's place is taken at once by the next) and graded by the task's verifier as they finish.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/problem.h"
#include "eval/verifier.h"
#include "runtime/generator.h"
#include "tokenizer/template/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace r1::eval {

// How a problem becomes a prompt.
enum class PromptStyle {
  Chat,    // the model's chat template, the problem as the user turn, generation prompt on
  R1Zero,  // the R1-Zero template (docs/FACTS.md section 6), plain text with BOS, for base models
};
PromptStyle parse_prompt_style(const std::string& name);  // chat | r1-zero
// The R1-Zero prompt of a question (DeepSeek-R1 paper, table 1).
std::string r1_zero_prompt(const std::string& question);

struct RolloutOptions {
  runtime::SamplingParams sampling;  // sample s of problem p draws with seed + p * 1000003 + s
  int64_t max_tokens = 32768;
  int64_t batch = 16;     // sequences generated at once
  bool logprobs = false;  // keep the sampling forward's log-probabilities (GenOutput)
  PromptStyle style = PromptStyle::Chat;
};

struct Rollout {
  size_t problem = 0;
  int64_t sample = 0;
  runtime::GenOutput out;
  Verdict verdict;
};

class RolloutRunner {
 public:
  RolloutRunner(models::Model& model, const tok::Tokenizer& tokenizer,
                const tmpl::ChatTemplate* chat, std::vector<int32_t> eos_ids);

  // The prompt ids of a problem (cached by the problem's id).
  const std::vector<int32_t>& prompt_ids(const Problem& p, PromptStyle style);

  // Generates and grades the (problem index, sample index) pairs of `todo`; the samples of a
  // problem that follow each other in todo share one prefill (up to `batch` of them in one
  // request; further ones reuse its cached prompt). on_done receives a request's rollouts (in
  // sample order) when all of them are finished, on the calling thread.
  void run(const std::vector<Problem>& problems,
           const std::vector<std::pair<size_t, int64_t>>& todo, const Verifier& verifier,
           const RolloutOptions& options, const std::function<void(Rollout&&)>& on_done);

  const runtime::GenStats& stats() const { return gen_.stats(); }

 private:
  const tok::Tokenizer& tok_;
  const tmpl::ChatTemplate* chat_;
  runtime::Generator gen_;
  std::map<std::pair<std::string, int>, std::vector<int32_t>> prompts_;
};

}  // namespace r1::eval
