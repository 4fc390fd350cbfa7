#include "eval/stats.h"

#include <algorithm>

#include "core/error.h"

namespace r1::eval {

double pass_at_1(const std::vector<bool>& correct) {
  if (correct.empty()) return 0;
  size_t c = 0;
  for (bool b : correct) c += b;
  return static_cast<double>(c) / static_cast<double>(correct.size());
}

double pass_at_k(size_t n, size_t c, size_t k) {
  if (c > n || k == 0 || k > n)
    fail_usage("pass@k needs 0 <= c <= n and 1 <= k <= n (n=", n, ", c=", c, ", k=", k, ")");
  if (n - c < k) return 1.0;
  double prod = 1.0;
  for (size_t i = n - c + 1; i <= n; ++i)
    prod *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - prod;
}

bool consensus_correct(const std::vector<VoteSample>& samples,
                       const std::function<bool(std::string_view, std::string_view)>& same) {
  struct Group {
    size_t first;  // index of the first sample with this answer
    size_t count;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].answer.empty()) continue;
    bool placed = false;
    for (auto& g : groups) {
      const std::string& rep = samples[g.first].answer;
      if (same ? same(rep, samples[i].answer) : rep == samples[i].answer) {
        ++g.count;
        placed = true;
        break;
      }
    }
    if (!placed) groups.push_back({i, 1});
  }
  if (groups.empty()) return false;
  const Group* best = &groups[0];
  for (const auto& g : groups)
    if (g.count > best->count) best = &g;  // strictly more: ties keep the first-seen group
  return samples[best->first].correct;
}

LengthStats length_stats(const std::vector<size_t>& tokens, const std::vector<bool>& truncated) {
  R1_ASSERT(tokens.size() == truncated.size());
  LengthStats s;
  if (tokens.empty()) return s;
  double total = 0;
  size_t cut = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    total += static_cast<double>(tokens[i]);
    cut += truncated[i];
  }
  s.mean_tokens = total / static_cast<double>(tokens.size());
  s.truncation_rate = static_cast<double>(cut) / static_cast<double>(tokens.size());
  return s;
}

EvalSummary summarize(const std::vector<std::vector<GradedSample>>& per_problem,
                      const std::vector<size_t>& ks,
                      const std::function<bool(std::string_view, std::string_view)>& same) {
  EvalSummary s;
  s.problems = per_problem.size();
  if (per_problem.empty()) return s;
  size_t min_n = per_problem[0].size();
  for (const auto& p : per_problem) min_n = std::min(min_n, p.size());
  s.cons_k = min_n;
  std::vector<size_t> tokens;
  std::vector<bool> truncated;
  for (size_t k : ks)
    if (k >= 1 && k <= min_n) s.pass_at_k.push_back({k, 0.0});
  for (const auto& p : per_problem) {
    std::vector<bool> correct;
    std::vector<VoteSample> votes;
    for (const auto& g : p) {
      correct.push_back(g.correct);
      tokens.push_back(g.tokens);
      truncated.push_back(g.truncated);
      if (votes.size() < min_n) votes.push_back({g.answer, g.correct});
    }
    s.samples += p.size();
    s.pass_at_1 += pass_at_1(correct);
    size_t c = 0;
    for (bool b : correct) c += b;
    for (auto& [k, value] : s.pass_at_k) value += pass_at_k(p.size(), c, k);
    s.cons_at_k += consensus_correct(votes, same) ? 1.0 : 0.0;
  }
  double n = static_cast<double>(per_problem.size());
  s.pass_at_1 /= n;
  for (auto& kv : s.pass_at_k) kv.second /= n;
  s.cons_at_k /= n;
  s.lengths = length_stats(tokens, truncated);
  return s;
}

}  // namespace r1::eval
