// Rejection sampling (R1's third stage, and distillation data): k samples of each problem from a
// model, graded by the task's verifier; the correct, readable ones become SFT conversations.
// Readable: the reply ended on its own (not cut by the length limit), closes its reasoning once and
// answers after it (grpo.h format_ok, chat style), holds no replacement characters (broken
// UTF-8), and does not repeat a line more than max_repeats times (the degenerate loops RL can
// produce). Identical replies to one problem are kept once; at most keep_per_problem per problem.
#pragma once

#include <cstdint>
#include <string>

namespace r1::train {

struct RejectionOptions {
  std::string model_dir, adapter, task = "math", data, out;
  int64_t k = 8, keep_per_problem = 2, limit = 0, max_tokens = 512, batch = 64;
  double temperature = 0.6, top_p = 0.95;
  int64_t max_repeats = 3;
  uint64_t seed = 0;
};

struct RejectionStats {
  int64_t problems = 0, samples = 0, correct = 0, kept = 0, problems_covered = 0;
  double mean_kept_tokens = 0;
};

// Writes the SFT rows ({"messages": [user, assistant]}) to options.out and returns the counts.
RejectionStats rejection_sample(const RejectionOptions& options);

// Whether a chat reply is readable in the sense above.
bool readable(const std::string& reply, const std::string& finish_reason, int64_t max_repeats);

}  // namespace r1::train
