// The files a run's summary is written to (docs/DESIGN.md principle 8): JSON for scripts and a
// Markdown table for people. Values are percentages with one decimal, as R1's tables print them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "eval/stats.h"

namespace r1::eval {

// {"task", "problems", "samples", "pass@1", "pass@K"..., "cons@K", "mean_tokens",
//  "truncation_rate"}; rates are fractions in [0, 1] (not percentages).
nlohmann::json summary_json(const std::string& task, const EvalSummary& s);

// A two-row Markdown table: a header and one row of numbers, rates in percent.
std::string summary_markdown(const std::string& task, const EvalSummary& s);

}  // namespace r1::eval
