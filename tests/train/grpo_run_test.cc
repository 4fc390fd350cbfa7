// r1 train grpo end to end on the bundled model: the log, plots and checkpoints it writes, a
// resumed run that equals an uninterrupted one bit for bit, the KL term at work, dynamic sampling,
// and the format rule of the reward.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "../common/temp_path.h"
#include "core/file_util.h"
#include "core/threads.h"
#include "train/grpo.h"
#include "train/rejection.h"

namespace r1::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

GrpoOptions small(const std::string& out) {
  GrpoOptions o;
  o.model_dir = std::string(R1_SOURCE_DIR) + "/models/r1-arith";
  o.task = "arithmetic";
  o.out_dir = out;
  o.group = 4;
  o.prompts = 3;
  o.steps = 4;
  o.max_tokens = 80;
  o.temperature = 2;  // the bundled model is nearly deterministic at 1: samples would not differ
  o.lr = 3e-4;
  o.beta = 0.05;
  o.updates = 2;
  o.save_every = 1;
  o.seed = 3;
  return o;
}

std::vector<json> log_lines(const std::string& dir) {
  std::vector<json> v;
  std::ifstream in(dir + "/train_log.jsonl");
  for (std::string l; std::getline(in, l);) {
    json j = json::parse(l);
    for (const char* k : {"gen_seconds", "train_seconds", "gen_tok_s", "train_tok_s"}) j.erase(k);
    v.push_back(j);
  }
  return v;
}

TEST(GrpoRun, ResumeIsBitExactAndTheRunIsLogged) {
  set_num_threads(1);  // the same sums in the same order in both runs
  const fs::path base = r1::testing::fresh_temp_dir("r1_grpo_run_");
  GrpoOptions straight = small((base / "straight").string());
  run_grpo(straight);
  GrpoOptions first = small((base / "resumed").string());
  first.stop_after = 2;
  run_grpo(first);
  GrpoOptions second = small((base / "resumed").string());
  second.resume = true;
  run_grpo(second);
  EXPECT_EQ(read_file((base / "straight/model.safetensors").string()),
            read_file((base / "resumed/model.safetensors").string()));
  const auto a = log_lines((base / "straight").string()),
             b = log_lines((base / "resumed").string());
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a, b);
  for (const json& r : a) {
    for (const char* k : {"reward", "accuracy", "format_rate", "response_length", "kl",
                          "clip_fraction", "entropy", "truncation_rate", "groups_kept"})
      EXPECT_TRUE(r.contains(k)) << k;
  }
  // With beta > 0 and the policy moving, the KL to the starting policy is positive after step 1.
  EXPECT_GT(a[3]["kl"].get<double>(), 0.0);
  for (const char* f : {"reward.svg", "length.svg", "config.json", "tokenizer.json"})
    EXPECT_TRUE(fs::exists(base / "straight" / f)) << f;
  EXPECT_TRUE(fs::exists(base / "straight/checkpoints"));
}

TEST(GrpoRun, DynamicSamplingKeepsOnlyGroupsWithSignal) {
  set_num_threads(1);
  const fs::path out = fs::path(r1::testing::fresh_temp_dir("r1_grpo_dynamic_")) / "run";
  GrpoOptions o = small(out.string());
  o.steps = 2;
  o.save_every = 0;
  o.beta = 0;
  o.updates = 1;
  o.max_tokens = 256;  // the bundled model solves nearly everything: most groups are all 1
  o.temperature = 1;
  o.dynamic_sampling = true;
  run_grpo(o);
  for (const json& r : log_lines(out.string())) {
    EXPECT_LE(r["groups_kept"].get<int>(), 3);
    EXPECT_LE(r["prompts_drawn"].get<int>(), 9);  // refills stop at three times the prompts
    if (r["groups_kept"].get<int>() < 3) {
      EXPECT_EQ(r["prompts_drawn"].get<int>(), 9);
    }
  }
}

TEST(GrpoRun, FormatRule) {
  EXPECT_TRUE(format_ok("work\n</think>\n\nso \\boxed{4}", "chat", "math"));
  EXPECT_FALSE(format_ok("work \\boxed{4}", "chat", "math"));               // never closed
  EXPECT_FALSE(format_ok("a</think>b</think>\\boxed{4}", "chat", "math"));  // closed twice
  EXPECT_FALSE(format_ok("work</think> four", "chat", "math"));             // no answer
  EXPECT_TRUE(format_ok("x</think><answer>1+2</answer>", "chat", "countdown"));
  EXPECT_TRUE(format_ok(" <think> a </think> <answer> 4 </answer>\n", "r1-zero", "math"));
  EXPECT_FALSE(format_ok("<think> a </think> <answer> 4 </answer> more", "r1-zero", "math"));
  EXPECT_FALSE(format_ok("<answer> 4 </answer>", "r1-zero", "math"));
}

TEST(RejectionSampling, KeepsCorrectReadableDistinctReplies) {
  EXPECT_TRUE(readable("a\nb\na\n</think> \\boxed{1}", "stop", 3));
  EXPECT_FALSE(readable("a\na\na\na\n", "stop", 3));                // a line four times
  EXPECT_FALSE(readable("fine </think> \\boxed{1}", "length", 3));  // cut by the limit
  EXPECT_FALSE(readable("bad \xef\xbf\xbd byte", "stop", 3));
  const fs::path out = fs::path(r1::testing::fresh_temp_dir("r1_rejection_")) / "kept.jsonl";
  RejectionOptions o;
  o.model_dir = std::string(R1_SOURCE_DIR) + "/models/r1-arith";
  o.task = "arithmetic";
  o.k = 3;
  o.limit = 6;
  o.keep_per_problem = 2;
  o.max_tokens = 256;
  o.temperature = 1.5;  // varied replies, some wrong
  o.out = out.string();
  const RejectionStats st = rejection_sample(o);
  EXPECT_EQ(st.problems, 6);
  EXPECT_EQ(st.samples, 18);
  EXPECT_LE(st.kept, st.correct);
  EXPECT_LE(st.kept, 12);
  std::ifstream in(out);
  int rows = 0;
  std::map<std::string, std::set<std::string>> replies;
  for (std::string l; std::getline(in, l); ++rows) {
    const json j = json::parse(l);
    const std::string reply = j["messages"][1]["content"];
    EXPECT_EQ(reply.rfind("<think>\n", 0), 0u);
    EXPECT_NE(reply.find("\\boxed{"), std::string::npos);
    EXPECT_TRUE(replies[j["id"]].insert(reply).second) << "a reply kept twice";
  }
  EXPECT_EQ(rows, st.kept);
}

}  // namespace
}  // namespace r1::train
