#include "train/rejection.h"

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/file_util.h"
#include "eval/rollout.h"
#include "io/model_config.h"
#include "models/lora.h"
#include "models/model.h"
#include "tokenizer/stop_ids.h"
#include "train/grpo.h"
#include "train/problems.h"

namespace r1::train {

bool readable(const std::string& reply, const std::string& finish_reason, int64_t max_repeats) {
  if (finish_reason != "stop") return false;
  if (reply.find("\xef\xbf\xbd") != std::string::npos) return false;  // U+FFFD: broken UTF-8
  std::map<std::string, int64_t> lines;
  for (size_t b = 0; b < reply.size();) {
    size_t e = reply.find('\n', b);
    if (e == std::string::npos) e = reply.size();
    const std::string line = reply.substr(b, e - b);
    if (line.find_first_not_of(" \t") != std::string::npos && ++lines[line] > max_repeats)
      return false;
    b = e + 1;
  }
  return true;
}

RejectionStats rejection_sample(const RejectionOptions& o) {
  if (o.out.empty()) fail_usage("--out FILE is required");
  std::vector<eval::Problem> problems =
      task_problems(o.task, o.data, tasks::Split::Train, o.limit > 0 ? o.limit : 2000, o.seed);
  if (o.limit > 0 && static_cast<int64_t>(problems.size()) > o.limit) problems.resize(o.limit);
  auto verifier = eval::make_verifier(o.task == "arithmetic" ? "math" : o.task);
  auto model = models::load_model(o.model_dir);
  if (!o.adapter.empty()) model->set_lora(models::LoraAdapters::load(*model, o.adapter));
  tok::Tokenizer tk = tok::Tokenizer::load(o.model_dir);
  const tmpl::ChatTemplate chat = tmpl::ChatTemplate::load(o.model_dir);
  const std::vector<int32_t> eos = tok::stop_ids(o.model_dir, model->config(), &tk);
  eval::RolloutRunner runner(*model, tk, &chat, eos);
  eval::RolloutOptions ro;
  ro.sampling.temperature = static_cast<float>(o.temperature);
  ro.sampling.top_p = static_cast<float>(o.top_p);
  ro.sampling.seed = o.seed;
  ro.max_tokens = o.max_tokens;
  ro.batch = o.batch;
  std::vector<std::pair<size_t, int64_t>> todo;
  for (size_t p = 0; p < problems.size(); ++p)
    for (int64_t s = 0; s < o.k; ++s) todo.push_back({p, s});
  RejectionStats st;
  st.problems = static_cast<int64_t>(problems.size());
  std::vector<std::set<std::string>> kept(problems.size());
  std::string rows;
  double kept_tokens = 0;
  runner.run(problems, todo, *verifier, ro, [&](eval::Rollout&& r) {
    ++st.samples;
    if (!r.verdict.correct) return;
    ++st.correct;
    const std::string& reply = r.out.text;
    auto& seen = kept[r.problem];
    if (static_cast<int64_t>(seen.size()) >= o.keep_per_problem || seen.count(reply) ||
        !format_ok(reply, "chat", o.task) || !readable(reply, r.out.finish_reason, o.max_repeats))
      return;
    seen.insert(reply);
    ++st.kept;
    kept_tokens += static_cast<double>(r.out.tokens.size());
    // The generation prompt ended with "<think>\n": the reply continues it.
    nlohmann::ordered_json j = {{"messages",
                                 {{{"role", "user"}, {"content", problems[r.problem].prompt}},
                                  {{"role", "assistant"}, {"content", "<think>\n" + reply}}}},
                                {"id", problems[r.problem].id}};
    rows += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  });
  for (const auto& s : kept) st.problems_covered += !s.empty();
  st.mean_kept_tokens = st.kept ? kept_tokens / static_cast<double>(st.kept) : 0;
  write_file_atomic(o.out, rows);
  return st;
}

}  // namespace r1::train
