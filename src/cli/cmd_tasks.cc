// r1 tasks arithmetic | countdown: procedural problems (tasks/) as SFT conversations or as
// evaluation sets for `r1 eval`. The split is fixed by a hash of each problem, so `--split train`
// never emits a problem of `--split test`, whatever the seeds.
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/file_util.h"
#include "tasks/arithmetic.h"
#include "tasks/countdown.h"

namespace r1::cli {
namespace {

constexpr int64_t kMaxProblems = 1'000'000;  // about 0.7 GB of JSONL

// Writes the rows to FILE atomically, or to stdout.
int emit(const std::string& text, const std::string& out) {
  if (!out.empty()) {
    write_file_atomic(out, text);
    return 0;
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int run_tasks_arithmetic(Args& args) {
  const int64_t n = args.take_int("--n", 1000, 1, kMaxProblems);
  const int64_t seed = args.take_int("--seed", 0, 0, kMaxI64);
  const std::string split = args.take_str("--split", "train");
  const std::string format = args.take_str("--format", "sft");
  const std::string kinds = args.take_str("--kinds", "add,sub,mul,word");
  const std::string out = args.take_str("--out", "", "-o");
  const double bare = args.take_double("--bare-fraction", 0.0, Range::closed(0, 1));
  const double worked = args.take_double("--worked-fraction", 0.5, Range::closed(0, 1));
  const double zero = args.take_double("--r1-zero-fraction", 0.0, Range::closed(0, 1));
  args.finish();
  if (format != "sft" && format != "eval" && format != "text")
    fail_usage("--format must be sft, eval or text, got '", format, "'");

  tasks::ArithOptions options;
  options.seed = static_cast<uint64_t>(seed);
  options.split = tasks::parse_split(split);
  options.kinds = tasks::parse_kinds(kinds);
  options.distinct = format == "eval";  // an evaluation set asks each question once
  const auto problems = tasks::generate_arithmetic(static_cast<size_t>(n), options);

  std::string text;
  for (size_t i = 0; i < problems.size(); ++i) {
    // Stable per-row choices (bare question, worked reply) from a hash of the row.
    const auto chance = [&](const char* what) {
      return static_cast<double>(tasks::fnv1a64(problems[i].canonical + what + std::to_string(i)) %
                                 10000) /
             10000;
    };
    if (format == "eval") {
      text += tasks::eval_row(problems[i]);
      continue;
    }
    if (format == "text") {
      text += tasks::text_row(problems[i], chance("#worked") < worked, chance("#zero") < zero);
      continue;
    }
    // A stable choice of rows whose question comes without the instruction, so that a model
    // trained on the data also answers a bare question.
    tasks::ArithProblem p = problems[i];
    if (static_cast<double>(tasks::fnv1a64(p.canonical + "#" + std::to_string(i)) % 10000) <
        bare * 10000)
      p.prompt = p.problem;
    text += tasks::sft_row(p);
  }
  return emit(text, out);
}

int run_tasks_countdown(Args& args) {
  const int64_t n = args.take_int("--n", 1000, 1, kMaxProblems);
  tasks::CountdownOptions o;
  o.seed = static_cast<uint64_t>(args.take_int("--seed", 0, 0, kMaxI64));
  o.split = tasks::parse_split(args.take_str("--split", "train"));
  o.numbers = static_cast<int>(args.take_int("--numbers", o.numbers, 2, 6));
  o.max_number = args.take_int("--max-number", o.max_number, 1, 1000);
  o.max_target = args.take_int("--max-target", o.max_target, 1, 1000000);
  const std::string format = args.take_str("--format", "eval");
  const std::string out = args.take_str("--out", "", "-o");
  args.finish();
  if (format != "sft" && format != "eval")
    fail_usage("--format must be sft or eval, got '", format, "'");
  o.distinct = format == "eval";
  std::string text;
  for (const auto& p : tasks::generate_countdown(static_cast<size_t>(n), o))
    text += format == "eval" ? tasks::countdown_eval_row(p) : tasks::countdown_sft_row(p);
  return emit(text, out);
}

R1_COMMAND(
    {"tasks arithmetic",
     "procedural arithmetic problems with worked solutions (SFT data, eval sets)",
     "r1 tasks arithmetic [--n N] [--seed S] [--split train|test] [--format sft|eval]\n"
     "                    [--kinds add,sub,mul,word] [--out FILE]\n"
     "  --n N         number of problems (default 1000)\n"
     "  --seed S      seed of the generator (default 0); same flags, same bytes\n"
     "  --split       train (default) or test: a problem is test iff the FNV-1a hash of\n"
     "                its kind and operands is 0 mod 10, so the splits never overlap\n"
     "  --bare-fraction F  sft: this fraction of rows asks without the instruction (default 0)\n"
     "  --format      sft (default): {\"messages\": [user, assistant], \"answer\"} with an\n"
     "                R1-style reply (<think> column method </think> \\boxed{N});\n"
     "                eval: {\"problem\", \"answer\", \"unique_id\"}, distinct problems, for\n"
     "                r1 eval --task math\n"
     "                text: {\"text\": \"User: Q. Assistant: ...\"}, plain text for pretraining\n"
     "                a base model (no chat or R1 format; --worked-fraction F of the replies\n"
     "                show the column method, default 0.5, the rest only the result;\n"
     "                --r1-zero-fraction F of the rows open with R1-Zero's prompt, default 0)\n"
     "  --kinds       kinds to mix, each optionally weighted: add,sub,mul,word=2\n"
     "  --out FILE    write FILE atomically (default stdout)\n",
     {},
     run_tasks_arithmetic});

R1_COMMAND(
    {"tasks countdown",
     "countdown problems: reach a target with + - * / over given numbers (RL, eval sets)",
     "r1 tasks countdown [--n N] [--seed S] [--split train|test] [--numbers K]\n"
     "                   [--max-number M] [--max-target T] [--format eval|sft] [--out FILE]\n"
     "  --numbers K      numbers per problem, 2 to 6 (default 4): the difficulty\n"
     "  --max-number M   numbers from 1 to M (default 50); targets from 1 to T (default 200)\n"
     "  --format         eval (default): {\"numbers\", \"target\", \"id\"}, distinct problems,\n"
     "                   for r1 eval --task countdown and r1 train grpo; sft: a conversation\n"
     "                   whose reply reaches the target step by step, then \\boxed{equation}\n"
     "  --split, --seed, --out as r1 tasks arithmetic\n",
     {},
     run_tasks_countdown});

}  // namespace
}  // namespace r1::cli
