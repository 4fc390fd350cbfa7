// Files of a run, in --out DIR (default eval-<task>-<data file name>):
//   run.json        the settings; a resumed run must match them
//   samples.jsonl   one line per graded sample, appended and flushed as each is done, so an
//                   interrupted run loses nothing and a rerun skips what is there
//   summary.json, summary.md   the report (also printed)
// Sample i of problem p uses seed (--seed) + p * 1000003 + i, so each sample is reproducible on
// its own whatever the batching.
#include "cli/eval_run.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/common.h"
#include "cli/model_dir.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/json_util.h"
#include "eval/loaders.h"
#include "eval/report.h"
#include "eval/rollout.h"
#include "eval/stats.h"
#include "eval/verifier.h"
#include "runtime/generator.h"
#include "tokenizer/template/chat_template.h"

namespace r1::cli {

namespace {

using nlohmann::json;

std::string base_name(const std::string& p) {
  std::string b = p.substr(p.find_last_of('/') + 1);
  return b.substr(0, b.find('.'));
}

}  // namespace

int run_eval_model(Args& args) {
  const std::string data = args.take_str("--data", "");
  const std::optional<BundledData> bundled = resolve_bundled_data(data);
  const std::string data_file = bundled ? bundled->file : data;
  const std::string task = args.take_str("--task", bundled ? bundled->task : "math");
  const int64_t k = args.take_int("-k", 1, 1, 1024);
  std::string out_dir = args.take_str("--out", "");
  const int64_t limit = args.take_int("--limit", 0, 0, kMaxI64);
  const int64_t max_tokens = args.take_int("--max-tokens", 32768, 1, kMaxTokens, "-n");
  const int64_t batch = args.take_int("--batch", 16, 1, kMaxBatch);
  const eval::PromptStyle style = eval::parse_prompt_style(args.take_str("--prompt-style", "chat"));
  runtime::SamplingParams sp = take_sampling(args);
  if (data.empty()) fail_usage("--data FILE is required (or `r1 eval grade`)");
  std::vector<eval::Problem> problems = eval::load_problems(data_file, task);
  if (limit > 0 && static_cast<int64_t>(problems.size()) > limit) problems.resize(limit);
  if (problems.empty()) fail_input(data, ": no problems");
  auto verifier = eval::make_verifier(task);
  LoadedModel lm = load_model_from_flags(args);
  args.finish();
  if (!lm.tokenizer) fail_input(lm.dir, ": no tokenizer.json; r1 eval needs one");
  std::unique_ptr<tmpl::ChatTemplate> chat;
  if (style == eval::PromptStyle::Chat)
    chat = std::make_unique<tmpl::ChatTemplate>(tmpl::ChatTemplate::load(lm.dir));

  if (out_dir.empty()) out_dir = "eval-" + task + "-" + base_name(data);
  mkdir(out_dir.c_str(), 0755);
  const std::string run_path = path_join(out_dir, "run.json");
  const std::string samples_path = path_join(out_dir, "samples.jsonl");
  json settings = {{"model", lm.dir},
                   {"data", data},
                   {"task", task},
                   {"prompt_style", style == eval::PromptStyle::Chat ? "chat" : "r1-zero"},
                   {"k", k},
                   {"max_tokens", max_tokens},
                   {"temperature", sp.temperature},
                   {"top_p", sp.top_p},
                   {"top_k", sp.top_k},
                   {"min_p", sp.min_p},
                   {"seed", sp.seed},
                   {"problems", problems.size()}};
  if (file_exists(run_path)) {
    const json old = read_json_file(run_path);
    if (old != settings)
      fail_usage(out_dir, " holds a run with other settings (", run_path,
                 "); use another --out or the same flags");
  } else {
    write_file_atomic(run_path, settings.dump(2) + "\n");
  }

  // Samples already graded (resume). A torn last line (a crash mid-write) is dropped.
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < problems.size(); ++i) index_of[problems[i].id] = i;
  std::vector<std::vector<eval::GradedSample>> graded(problems.size(),
                                                      std::vector<eval::GradedSample>(k));
  std::vector<std::vector<bool>> have(problems.size(), std::vector<bool>(k, false));
  size_t done = 0;
  if (file_exists(samples_path)) {
    std::ifstream in(samples_path);
    std::string line;
    std::string kept;
    for (size_t n = 1; std::getline(in, line); ++n) {
      const std::string where = cat(samples_path, ": line ", n);
      if (!json::accept(line)) {
        if (in.peek() == EOF) break;  // a torn final line from an interrupted run
        fail_input(where, " is not valid JSON");
      }
      const json j = parse_json(line, where);
      auto it = index_of.find(json_string(j, "id", where));
      const int64_t s = json_int(j, "sample", where);
      if (it == index_of.end() || s < 0 || s >= k)
        fail_input(where, " names a sample this run does not have");
      const int64_t tokens = json_int(j, "tokens", where, 0);
      if (tokens < 0) fail_input(where, ": field tokens must not be negative");
      if (!have[it->second][s]) ++done;
      have[it->second][s] = true;
      graded[it->second][s] = {json_bool(j, "correct", where),
                               json_string(j, "extracted", where, ""), static_cast<size_t>(tokens),
                               json_bool(j, "truncated", where, false)};
      kept += line + "\n";
    }
    write_file_atomic(samples_path, kept);  // without a torn line, so appends stay well formed
  }
  std::ofstream out(samples_path, std::ios::app);
  if (!out) fail_input(samples_path, ": cannot append");

  std::vector<std::pair<size_t, int64_t>> todo;
  for (size_t p = 0; p < problems.size(); ++p)
    for (int64_t s = 0; s < k; ++s)
      if (!have[p][s]) todo.push_back({p, s});
  const size_t total = problems.size() * k;
  if (done)
    std::fprintf(stderr, "resuming %s: %zu of %zu samples done\n", out_dir.c_str(), done, total);

  // Prompts: the problem as the user turn through the chat template (R1 conventions).
  eval::RolloutRunner runner(*lm.model, *lm.tokenizer, chat.get(), lm.eos_ids);
  eval::RolloutOptions ro;
  ro.sampling = sp;
  ro.max_tokens = max_tokens;
  ro.batch = batch;
  ro.style = style;
  const double t0 = now_seconds();
  const bool tty = isatty(fileno(stderr));
  size_t new_done = 0;
  runner.run(problems, todo, *verifier, ro, [&](eval::Rollout&& r) {
    const runtime::GenOutput& o = r.out;
    const bool truncated = o.finish_reason == "length";
    graded[r.problem][r.sample] = {r.verdict.correct, r.verdict.extracted, o.tokens.size(),
                                   truncated};
    json line = {{"id", problems[r.problem].id},     {"sample", r.sample},
                 {"correct", r.verdict.correct},     {"extracted", r.verdict.extracted},
                 {"tokens", o.tokens.size()},        {"truncated", truncated},
                 {"finish_reason", o.finish_reason}, {"response", o.text}};
    out << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
    ++new_done;
    // A line that rewrites itself on a terminal; in a log, a line per tenth of the samples.
    const bool last = new_done == todo.size();
    if (tty || last || new_done % std::max<size_t>(1, todo.size() / 10) == 0) {
      const double el = now_seconds() - t0, rate = new_done / el;
      std::fprintf(stderr, "%s[%zu/%zu samples] %.2f samples/s, ETA %.0f s%s", tty ? "\r" : "",
                   done + new_done, total, rate, rate > 0 ? (todo.size() - new_done) / rate : 0.0,
                   tty && !last ? "   " : "\n");
      std::fflush(stderr);
    }
  });

  std::vector<size_t> ks;
  for (size_t kk = 1; kk <= static_cast<size_t>(k); kk *= 2) ks.push_back(kk);
  if (ks.back() != static_cast<size_t>(k)) ks.push_back(k);
  eval::EvalSummary sum = eval::summarize(graded, ks, [&](std::string_view a, std::string_view c) {
    return verifier->same_answer(a, c);
  });
  json sj = eval::summary_json(task, sum);
  sj["model"] = lm.dir;
  sj["data"] = data;
  write_file_atomic(path_join(out_dir, "summary.json"), sj.dump(2) + "\n");
  std::string md = eval::summary_markdown(task, sum);
  write_file_atomic(path_join(out_dir, "summary.md"), md);
  std::cout << md;
  return 0;
}

}  // namespace r1::cli
