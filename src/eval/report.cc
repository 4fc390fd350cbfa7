#include "eval/report.h"

#include <algorithm>
#include <cstdio>

namespace r1::eval {

nlohmann::json summary_json(const std::string& task, const EvalSummary& s) {
  nlohmann::json j = {
      {"task", task}, {"problems", s.problems}, {"samples", s.samples}, {"pass@1", s.pass_at_1}};
  for (const auto& [k, v] : s.pass_at_k)
    if (k != 1) j["pass@" + std::to_string(k)] = v;
  if (s.cons_k > 0) j["cons@" + std::to_string(s.cons_k)] = s.cons_at_k;
  j["mean_tokens"] = s.lengths.mean_tokens;
  j["truncation_rate"] = s.lengths.truncation_rate;
  return j;
}

std::string summary_markdown(const std::string& task, const EvalSummary& s) {
  auto pct = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f", 100.0 * v);
    return std::string(buf);
  };
  std::string head = "| task | problems | samples | pass@1 |";
  std::string row = "| " + task + " | " + std::to_string(s.problems) + " | " +
                    std::to_string(s.samples) + " | " + pct(s.pass_at_1) + " |";
  for (const auto& [k, v] : s.pass_at_k) {
    if (k == 1) continue;
    head += " pass@" + std::to_string(k) + " |";
    row += " " + pct(v) + " |";
  }
  if (s.cons_k > 0) {
    head += " cons@" + std::to_string(s.cons_k) + " |";
    row += " " + pct(s.cons_at_k) + " |";
  }
  char len[32];
  std::snprintf(len, sizeof(len), "%.0f", s.lengths.mean_tokens);
  head += " mean tokens | truncated |";
  row += " " + std::string(len) + " | " + pct(s.lengths.truncation_rate) + " |";
  std::string sep = "|";
  size_t columns = static_cast<size_t>(std::count(head.begin(), head.end(), '|')) - 1;
  for (size_t c = 0; c < columns; ++c) sep += "---|";
  return head + "\n" + sep + "\n" + row + "\n";
}

}  // namespace r1::eval
