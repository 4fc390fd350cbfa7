// Evaluation statistics of R1's protocol (docs/FACTS.md section 7), as plain functions of the
// graded samples of one problem; averaging over problems is the caller's (a plain mean).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::eval {

// pass@1 of one problem: the mean correctness of its samples (0 when there are none).
double pass_at_1(const std::vector<bool>& correct);

// Unbiased pass@k (Chen et al. 2021) for n samples of which c are correct:
// 1 - C(n-c, k) / C(n, k), computed as 1 - prod_{i=n-c+1..n} (1 - k/i) to stay stable for large
// n; 1 when n - c < k. Precondition: 0 <= c <= n and 1 <= k <= n (a Usage error otherwise).
double pass_at_k(size_t n, size_t c, size_t k);

// One graded sample as majority voting sees it.
struct VoteSample {
  std::string answer;  // the extracted answer; "" (no answer) never wins a vote
  bool correct = false;
};

// cons@k of one problem: majority vote over the samples' answers (all of them; pass the first k
// for cons@k). Answers are grouped with `same` (the verifier's same_answer; plain string equality
// when empty), each group represented by its first-seen answer. The largest group wins; on a tie
// the group seen first wins (lighteval's rule). Returns whether the winning group is correct (its
// first sample's verdict); false when no sample has an answer.
bool consensus_correct(const std::vector<VoteSample>& samples,
                       const std::function<bool(std::string_view, std::string_view)>& same = {});

// Response-length statistics over all samples of a run.
struct LengthStats {
  double mean_tokens = 0;
  double truncation_rate = 0;  // fraction of samples that hit the generation limit
};
LengthStats length_stats(const std::vector<size_t>& tokens, const std::vector<bool>& truncated);

// One graded sample of a run.
struct GradedSample {
  bool correct = false;
  std::string answer;  // extracted answer ("" when none)
  size_t tokens = 0;   // response length
  bool truncated = false;
};

// The report of a run: every number is a mean over problems of the per-problem value, except the
// length statistics, which are over all samples.
struct EvalSummary {
  size_t problems = 0, samples = 0;
  double pass_at_1 = 0;
  std::vector<std::pair<size_t, double>> pass_at_k;  // (k, value) for each requested k that is
                                                     // <= every problem's sample count
  size_t cons_k = 0;  // samples per vote: the smallest sample count over problems
  double cons_at_k = 0;
  LengthStats lengths;
};

// Summarizes per-problem samples (in generation order). cons@k votes over each problem's first
// cons_k samples with `same` (see consensus_correct).
EvalSummary summarize(const std::vector<std::vector<GradedSample>>& per_problem,
                      const std::vector<size_t>& ks,
                      const std::function<bool(std::string_view, std::string_view)>& same = {});

}  // namespace r1::eval
