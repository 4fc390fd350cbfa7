// Input that once crashed, hung, ran out of memory, wrote a model of NaNs or ended as an internal
// error, one test per class of defect, each with the inputs that found it. Every one must now end
// as one line on stderr and exit code 2, with nothing written, or (a generation that reaches the
// context) finish normally with finish reason "length".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/temp_path.h"
#include "cli_run.h"

namespace r1 {
namespace {

using nlohmann::json;
using testing::CliResult;
using testing::run_r1;
namespace fs = std::filesystem;

const std::string kTiny = std::string(R1_SOURCE_DIR) + "/models/r1-tiny-random";

// A new folder for one test, removed when the test program exits.
std::string temp_dir(const std::string& name) {
  return r1::testing::fresh_temp_dir("r1_hardening_" + name + "_");
}

// A writable copy of the bundled random model.
std::string tiny_copy(const std::string& name) {
  const std::string d = temp_dir(name) + "/model";
  fs::copy(kTiny, d, fs::copy_options::recursive);
  return d;
}

void edit_json(const std::string& path, const std::function<void(json&)>& f) {
  json j = json::parse(std::ifstream(path));
  f(j);
  std::ofstream(path) << j.dump();
}

// The command failed with exit code 2 and its error is one line, the last (progress lines such
// as a training run's data summary may come before it), naming what is wrong.
void expect_input_error(const CliResult& r, const std::vector<std::string>& needles) {
  EXPECT_EQ(r.code, 2) << r.err;
  std::string last = r.err.substr(0, r.err.size() - (r.err.empty() ? 0 : 1));
  last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
  EXPECT_NE(last.find("error: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("error"), r.err.find(last) + last.find("error")) << "one error: " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  for (const auto& n : needles) EXPECT_NE(last.find(n), std::string::npos) << n << ": " << r.err;
}

TEST(Hardening, NumericFlagsStateTheirRange) {
  const std::string d = temp_dir("flags");
  const std::string data = d + "/data.jsonl";
  std::ofstream(data) << R"({"prompt": "1+1?", "response": "2"})"
                      << "\n";
  const std::string sft = "train sft -m r1-tiny-random --data " + data + " --out " + d + "/o ";
  for (const auto& [flags, needle] : std::vector<std::pair<std::string, std::string>>{
           {"--lr nan", "--lr must be a number in (0, 10]"},
           {"--lr inf", "--lr must be a number in (0, 10]"},
           {"--lr -1", "--lr"},
           {"--beta1 1", "--beta1 must be a number in [0, 1)"},
           {"--beta2 -0.5", "--beta2"},
           {"--weight-decay -1", "--weight-decay"},
           {"--warmup -3", "--warmup"},
           {"--clip nan", "--clip"},
           {"--epochs 0", "--epochs"},
           {"--seq-len 0", "--seq-len"},
           {"--eval-fraction 1", "--eval-fraction"}}) {
    expect_input_error(run_r1(sft + flags), {needle});
    EXPECT_FALSE(fs::exists(d + "/o")) << flags << ": nothing may be written";
  }
  const std::string init = "train init --tokenizer " + kTiny + " --out " + d + "/m ";
  expect_input_error(run_r1(init + "--init-std nan"), {"--init-std must be a number in (0, 10]"});
  expect_input_error(run_r1(init + "--rope-theta inf"), {"--rope-theta"});
  expect_input_error(run_r1(init + "--layers 0"), {"--layers must be an integer in [1, 1024]"});
  EXPECT_FALSE(fs::exists(d + "/m"));
  expect_input_error(run_r1("generate -p x --temperature nan"), {"--temperature"});
  expect_input_error(run_r1("generate -p x --top-p 0"), {"--top-p must be a number in (0, 1]"});
  expect_input_error(run_r1("generate -p x --ctx 0"), {"--ctx must be an integer in [1, "});
  expect_input_error(run_r1("generate -p x -n -1"), {"-n must be an integer in [0, "});
  expect_input_error(run_r1("generate -p x --seed 1e3"), {"--seed", "'1e3'"});
  expect_input_error(run_r1("bench --batch 100000"), {"--batch must be an integer in [1, 4096]"});
  expect_input_error(run_r1("bench --reps 0"), {"--reps"});
  expect_input_error(run_r1("eval --data amc23 -k 0"), {"-k"});
  expect_input_error(run_r1("tasks arithmetic --bare-fraction 2"), {"--bare-fraction"});
}

TEST(Hardening, SizesAreCheckedBeforeAllocating) {
  const std::string d = temp_dir("sizes");
  const std::string init = "train init --tokenizer " + kTiny + " --out " + d + "/m ";
  expect_input_error(
      run_r1(init + "--vocab 16000000 --hidden 65536"),
      {"the new model's f32 weights would take", "TiB", "of memory on this machine"});
  expect_input_error(run_r1(init + "--layers 1024 --hidden 65536 --intermediate 1048576"),
                     {"would take"});
  EXPECT_FALSE(fs::exists(d + "/m"));
  // A KV cache the (here deliberately small) memory cannot hold.
  expect_input_error(run_r1("bench -m r1-tiny-random --batch 4096 --prompt-tokens 2048 "
                            "--gen-tokens 2 --reps 1 --no-bandwidth",
                            "", "R1_MEMORY_LIMIT=16M"),
                     {"the KV cache", "would take", "16.0 MiB of memory"});
  // Training needs weights, gradients and two moments in f32.
  const std::string data = d + "/data.jsonl";
  std::ofstream(data) << R"({"prompt": "1+1?", "response": "2"})"
                      << "\n";
  expect_input_error(run_r1("train sft -m r1-tiny-random --data " + data + " --out " + d + "/o", "",
                            "R1_MEMORY_LIMIT=1M"),
                     {"training this model", "would take"});
}

TEST(Hardening, ChatTemplatesAreBounded) {
  const std::string m = tiny_copy("template");
  const std::string messages = R"({"messages": [{"role": "user", "content": "hi"}]})";
  for (const auto& [tmpl, needle] : std::vector<std::pair<std::string, std::string>>{
           {"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "evaluation steps"},
           {"{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
            "{% endfor %}{{ ns.s }}",
            "MiB"},
           {"{{ messages|tojson(indent=100000000) }}", "MiB"},
           {"{{ (1e999)|int }}", "cannot convert inf"},
           {"{{ range(1000000000000)|length }}", "range() of more than"}}) {
    edit_json(m + "/tokenizer_config.json", [&](json& c) { c["chat_template"] = tmpl; });
    expect_input_error(run_r1("template -m " + m, messages), {"chat template", needle});
    expect_input_error(run_r1("generate --chat -p hi -m " + m), {"chat template", needle});
  }
}

TEST(Hardening, RegexLimitsAreInputErrors) {
  const std::string m = tiny_copy("regex");
  edit_json(m + "/tokenizer.json", [](json& t) {
    t["pre_tokenizer"] = {{"type", "Split"},
                          {"pattern", {{"Regex", "(a|aa)+$"}}},
                          {"behavior", "Isolated"},
                          {"invert", false}};
  });
  expect_input_error(run_r1("tokenize -m " + m, std::string(300, 'a') + "b"),
                     {"pre-tokenizer regex gives up"});
}

TEST(Hardening, DamagedRunFilesAreNamed) {
  // An eval run's samples.jsonl with a row of the wrong type.
  const std::string d = temp_dir("resume");
  const std::string eval = "eval --data amc23 --limit 1 -k 2 -n 4 --out " + d + "/eval";
  ASSERT_EQ(run_r1(eval).code, 0);
  std::vector<std::string> rows;
  {
    std::ifstream in(d + "/eval/samples.jsonl");
    for (std::string l; std::getline(in, l);) rows.push_back(l);
  }
  ASSERT_EQ(rows.size(), 2u);
  json row = json::parse(rows[1]);
  row["sample"] = "one";
  std::ofstream(d + "/eval/samples.jsonl") << rows[0] << "\n" << row.dump() << "\n";
  expect_input_error(run_r1(eval), {"samples.jsonl: line 2: field sample must be an integer"});
  row["sample"] = 1;
  row["correct"] = "yes";
  std::ofstream(d + "/eval/samples.jsonl") << rows[0] << "\n" << row.dump() << "\n";
  expect_input_error(run_r1(eval), {"line 2: field correct must be true or false"});

  // A training checkpoint whose trainer_state.json has a field of the wrong type.
  const std::string data = d + "/data.jsonl";
  {
    std::ofstream f(data);
    for (int i = 0; i < 8; ++i)
      f << R"({"prompt": "1+1?", "response": "2"})"
        << "\n";
  }
  const std::string sft = "train sft -m r1-tiny-random --data " + data + " --out " + d +
                          "/train --steps 4 --batch-tokens 64 --save-every 1 --stop-after 1";
  ASSERT_EQ(run_r1(sft).code, 0);
  const std::string state = d + "/train/checkpoints/step-0000001/trainer_state.json";
  ASSERT_TRUE(fs::exists(state));
  edit_json(state, [](json& s) { s["step"] = "one"; });
  expect_input_error(run_r1(sft + " --resume"),
                     {"trainer_state.json: field step must be an integer"});
  edit_json(state, [](json& s) { s = json::array(); });
  expect_input_error(run_r1(sft + " --resume"), {"trainer_state.json: expected a JSON object"});
}

TEST(Hardening, ValuesThatMustBeRefused) {
  const std::string m = tiny_copy("values");
  const std::string config = m + "/config.json";
  const json original = json::parse(std::ifstream(config));
  auto with_config = [&](const std::function<void(json&)>& f) {
    json c = original;
    f(c);
    std::ofstream(config) << c.dump();
  };
  with_config([](json& c) { c["rms_norm_eps"] = -1e-6; });
  expect_input_error(run_r1("generate -p x -m " + m), {"rms_norm_eps must be in (0, 1)"});
  with_config([](json& c) { c["hidden_act"] = "gelu"; });
  expect_input_error(run_r1("generate -p x -m " + m), {"hidden_act \"gelu\" is not supported"});
  with_config([](json& c) { c["eos_token_id"] = 99999; });
  expect_input_error(run_r1("generate -p x -m " + m), {"eos_token_id 99999 is not a token id"});
  with_config([](json& c) { c["bos_token_id"] = -1; });
  expect_input_error(run_r1("generate -p x -m " + m), {"bos_token_id -1"});
  with_config([](json&) {});
  // Ids past the embedding's 768 rows: added tokens 732..768 (no gaps, so the tokenizer is
  // consistent in itself).
  const std::string tok = m + "/tokenizer.json";
  const json tok_original = json::parse(std::ifstream(tok));
  edit_json(tok, [](json& t) {
    for (int id = 732; id <= 768; ++id)
      t["added_tokens"].push_back(
          {{"id", id}, {"content", "<x" + std::to_string(id) + ">"}, {"special", true}});
  });
  expect_input_error(run_r1("generate -p x -m " + m),
                     {"the tokenizer has 769 ids but the model's embedding only 768 rows"});
  std::ofstream(tok) << tok_original.dump();
  edit_json(m + "/generation_config.json", [](json& g) { g["eos_token_id"] = {1, 5000}; });
  expect_input_error(run_r1("generate -p x -m " + m), {"generation_config.json", "5000"});
  edit_json(m + "/generation_config.json", [](json& g) { g["eos_token_id"] = 1; });
  edit_json(m + "/tokenizer.json", [](json& t) { t["model"]["vocab"]["zzz"] = 5; });
  expect_input_error(run_r1("tokenize -m " + m, "hi"), {"gives id 5 to two tokens"});

  expect_input_error(run_r1("score -m r1-tiny-random", R"({"ids": [1, 2], "text": "hi"})"),
                     {"not both"});
  expect_input_error(run_r1("generate -p x --stop ''"), {"--stop"});
  // BOS and "x": two tokens, one more than the context.
  expect_input_error(run_r1("generate -p x --ctx 1"), {"does not fit the context of 1 tokens"});
}

TEST(Hardening, GenerationStopsAtTheContext) {
  // The prompt is 15 tokens; --ctx 30 leaves room for 15 more, whatever -n asks.
  const CliResult one =
      run_r1("generate --chat -p 'What is 12 + 30?' --ctx 30 -n 1000 --temperature 0 --json");
  ASSERT_EQ(one.code, 0) << one.err;
  const json o = json::parse(one.out);
  EXPECT_EQ(o["finish_reason"], "length");
  EXPECT_EQ(o["prompt_tokens"].get<int>() + static_cast<int>(o["tokens"].size()), 30);
  // Batched samples, each to the context.
  const CliResult many = run_r1(
      "generate --chat -p 'What is 12 + 30?' --ctx 30 -n 1000 "
      "--samples 3 --json");
  ASSERT_EQ(many.code, 0) << many.err;
  std::istringstream lines(many.out);
  int n = 0;
  for (std::string l; std::getline(lines, l); ++n) {
    const json s = json::parse(l);
    if (s["finish_reason"] == "length") {
      EXPECT_EQ(s["prompt_tokens"].get<int>() + static_cast<int>(s["tokens"].size()), 30);
    }
  }
  EXPECT_EQ(n, 3);

  // An evaluation whose prompt plus budget passes the context finishes (truncated samples), and
  // so does its rerun.
  const std::string d = temp_dir("ctx");
  std::ofstream(d + "/q.jsonl") << R"({"question": "What is 12 + 30?", "answer": "#### 42"})"
                                << "\n";
  const std::string eval =
      "eval --data " + d + "/q.jsonl --task gsm8k -k 2 -n 1000 --ctx 40 " + "--out " + d + "/run";
  const CliResult first = run_r1(eval);
  ASSERT_EQ(first.code, 0) << first.err;
  std::ifstream in(d + "/run/samples.jsonl");
  int rows = 0;
  for (std::string l; std::getline(in, l); ++rows) {
    const json s = json::parse(l);
    if (s["truncated"].get<bool>()) {
      EXPECT_EQ(s["finish_reason"], "length");
    }
    EXPECT_LE(s["tokens"].get<int>(), 40);
  }
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(run_r1(eval).code, 0);
}

}  // namespace
}  // namespace r1
