// r1 score / generate / bench end to end, and bad input: every problem is one line on stderr
// naming the file, tensor, field or flag, with exit code 2, never a crash.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include "cli_run.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/temp_path.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using r1::testing::run_r1;
using Result = r1::testing::CliResult;

std::string fixture(const std::string& name) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/" + name;
}

// A writable copy of a fixture to break.
std::string copy_fixture(const std::string& name, const std::string& as) {
  const fs::path dst = fs::path(r1::testing::fresh_temp_dir("r1_cli_" + as + "_")) / "model";
  fs::copy(fixture(name), dst, fs::copy_options::recursive);
  return dst.string();
}

void expect_bad_input(const Result& r, std::vector<std::string> fragments) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
}

TEST(ScoreCli, MatchesGoldenLogprobs) {
  std::ifstream gold(fixture("qwen2-f32") + "/golden.jsonl");
  std::string input;
  std::vector<json> rows;
  for (std::string line; std::getline(gold, line);) {
    rows.push_back(json::parse(line));
    input += json({{"ids", rows.back()["ids"]}}).dump() + "\n";
  }
  Result r = run_r1("score --jsonl -m " + fixture("qwen2-f32"), input);
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream out(r.out);
  size_t i = 0;
  for (std::string line; std::getline(out, line); ++i) {
    json o = json::parse(line);
    ASSERT_LT(i, rows.size());
    EXPECT_EQ(o["ids"], rows[i]["ids"]);
    ASSERT_EQ(o["logprobs"].size(), rows[i]["logprobs"].size());
    for (size_t j = 0; j < o["logprobs"].size(); ++j)
      EXPECT_NEAR(o["logprobs"][j].get<double>(), rows[i]["logprobs"][j].get<double>(), 1e-3);
  }
  EXPECT_EQ(i, rows.size());
}

TEST(ScoreCli, TextNeedsAndUsesTheTokenizer) {
  Result r = run_r1("score -m r1-tiny-random", R"({"text": "Tom has 3 apples."})");
  ASSERT_EQ(r.code, 0) << r.err;
  json o = json::parse(r.out);
  EXPECT_EQ(o["logprobs"].size() + 1, o["ids"].size());
  for (const auto& v : o["logprobs"]) EXPECT_LT(v.get<double>(), 0.0);
  expect_bad_input(run_r1("score -m " + fixture("qwen2-f32"), R"({"text": "hi"})"),
                   {"needs a tokenizer.json"});
}

TEST(GenerateCli, SameSeedSameTextAndBatchedSamples) {
  const std::string args = "generate -m r1-tiny-random -p 'Tom has' -n 12 --seed 5 --json";
  Result a = run_r1(args), b = run_r1(args);
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  json o = json::parse(a.out);
  EXPECT_LE(o["tokens"].size(), 12u);
  Result s = run_r1(args + " --samples 3");
  ASSERT_EQ(s.code, 0) << s.err;
  std::istringstream lines(s.out);
  std::string first;
  std::getline(lines, first);
  EXPECT_EQ(json::parse(first)["tokens"], o["tokens"]) << "sample 0 of seed 5 equals seed 5 alone";
}

TEST(GenerateCli, GreedyMatchesPyTorch) {
  // tools/reference/greedy_golden.py: PyTorch's greedy continuation of a prompt of the bundled
  // random model (no step a near tie: margins >= 0.33).
  const json g = json::parse(std::ifstream(std::string(R1_SOURCE_DIR) +
                                           "/tests/fixtures/models/r1-tiny-random-greedy.json"));
  const std::string text = g["text"];
  const size_t n = g["greedy"].size();
  Result r =
      run_r1("generate -m r1-tiny-random --temperature 0 --json -n " + std::to_string(n), text);
  ASSERT_EQ(r.code, 0) << r.err;
  const json o = json::parse(r.out);
  EXPECT_EQ(o["prompt_tokens"], g["prompt_ids"].size());
  EXPECT_EQ(o["tokens"], g["greedy"]);
  EXPECT_EQ(o["finish_reason"], "length");
}

TEST(BenchCli, ReportsSpeedsAndBytes) {
  Result r = run_r1("bench -m " + fixture("qwen2-f32") +
                    " --prompt-tokens 16 --gen-tokens 4 --reps 1 --no-bandwidth --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json o = json::parse(r.out);
  EXPECT_GT(o["prefill_tok_s"].get<double>(), 0);
  EXPECT_GT(o["decode_tok_s"].get<double>(), 0);
  // A decode step reads every tensor of the checkpoint once, except the embedding, of which it
  // reads one row: computed here from the safetensors header, independently of r1's loader.
  std::ifstream f(fixture("qwen2-f32") + "/model.safetensors", std::ios::binary);
  uint64_t header_len = 0;
  f.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_len));
  const json tensors = json::parse(header);
  double bytes = 0;
  for (const auto& [name, t] : tensors.items()) {
    if (name == "__metadata__") continue;
    const double size = t["data_offsets"][1].get<double>() - t["data_offsets"][0].get<double>();
    bytes += name == "model.embed_tokens.weight" ? size / t["shape"][0].get<double>() : size;
  }
  EXPECT_EQ(o["weight_bytes_per_step"].get<double>(), bytes);
  // f32 keys and values: 2 layers x 2 kv heads x 16 dims, twice, 4 bytes.
  EXPECT_EQ(o["kv_bytes_per_token"], 2 * 2 * 2 * 16 * 4);
}

TEST(BenchCli, ComparesMtpUnlessAskedNotTo) {
  const std::string args = "bench -m " + fixture("dsv3-fp8") +
                           " --prompt-tokens 8 --gen-tokens 6 --reps 1 --no-bandwidth --json";
  Result with = run_r1(args);
  ASSERT_EQ(with.code, 0) << with.err;
  const json w = json::parse(with.out);
  EXPECT_GT(w["decode_tok_s"].get<double>(), 0);
  ASSERT_TRUE(w.contains("mtp_tokens_per_step")) << with.out;
  // 5 tokens after the prefill's first, one or two per verification step.
  EXPECT_GE(w["mtp_tokens_per_step"].get<double>(), 1.0);
  EXPECT_LE(w["mtp_tokens_per_step"].get<double>(), 2.0);
  Result without = run_r1(args + " --no-mtp");
  ASSERT_EQ(without.code, 0) << without.err;
  const json o = json::parse(without.out);
  EXPECT_GT(o["decode_tok_s"].get<double>(), 0);
  EXPECT_FALSE(o.contains("mtp_tokens_per_step")) << without.out;
  EXPECT_FALSE(o.contains("mtp_speedup")) << without.out;
}

TEST(BenchCli, DryRunCountsParametersInTheirUnit) {
  // models/r1-arith: 1,674,176 parameters (its README, from the safetensors header).
  Result r = run_r1("bench --dry-run -m r1-arith --no-bandwidth");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("parameters   1.67 M\n"), std::string::npos) << r.out;
  Result j = run_r1("bench --dry-run -m r1-arith --no-bandwidth --json");
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_EQ(json::parse(j.out)["params"], 1674176);
}

TEST(BadInput, MissingModelFolder) {
  expect_bad_input(run_r1("score -m /nonexistent/model", "{}"), {"/nonexistent/model"});
}

TEST(BadInput, BadFlags) {
  expect_bad_input(run_r1("score --frobnicate -m " + fixture("qwen2-f32")), {"--frobnicate"});
  expect_bad_input(run_r1("generate -m r1-tiny-random -p x -n many"), {"-n", "many"});
  expect_bad_input(run_r1("generate -m r1-tiny-random -p x --top-p 2"), {"top-p"});
  expect_bad_input(run_r1("frobnicate"), {"unknown command"});
}

TEST(BadInput, BadStdin) {
  std::string m = " -m " + fixture("qwen2-f32");
  expect_bad_input(run_r1("score" + m, "{not json"), {"stdin", "JSON"});
  expect_bad_input(run_r1("score --jsonl" + m, "{\"ids\": [1, 2]}\n{\"ids\": [1, 99999]}\n"),
                   {"line 2", "99999", "vocabulary"});
  expect_bad_input(run_r1("score" + m, R"({"ids": [1, "a"]})"), {"non-integer"});
  expect_bad_input(run_r1("score" + m, R"({"tokens": [1]})"), {"\"ids\" or \"text\""});
}

TEST(BadInput, TruncatedWeights) {
  std::string dir = copy_fixture("qwen2-f32", "truncated");
  fs::resize_file(dir + "/model.safetensors", fs::file_size(dir + "/model.safetensors") - 1000);
  expect_bad_input(run_r1("score -m " + dir, R"({"ids": [1, 2]})"),
                   {"model.safetensors", "outside the data section"});
}

TEST(BadInput, MissingShard) {
  std::string dir = copy_fixture("llama-bf16-sharded", "noshard");
  fs::remove(dir + "/model-00002-of-00002.safetensors");
  expect_bad_input(run_r1("score -m " + dir, R"({"ids": [1, 2]})"),
                   {"model-00002-of-00002.safetensors"});
}

void edit_config(const std::string& dir, const std::function<void(json&)>& f) {
  json c = json::parse(std::ifstream(dir + "/config.json"));
  f(c);
  std::ofstream(dir + "/config.json") << c.dump();
}

TEST(BadInput, ConfigProblems) {
  std::string dir = copy_fixture("qwen2-f32", "config");
  edit_config(dir, [](json& c) { c["architectures"] = {"GPTNeoXForCausalLM"}; });
  expect_bad_input(run_r1("score -m " + dir, "{}"), {"config.json", "GPTNeoXForCausalLM"});
  edit_config(dir, [](json& c) {
    c["architectures"] = {"Qwen2ForCausalLM"};
    c["hidden_size"] = 32;
  });
  expect_bad_input(run_r1("score -m " + dir, "{}"), {"model.embed_tokens.weight", "shape"});
  edit_config(dir, [](json& c) {
    c["hidden_size"] = 64;
    c["num_hidden_layers"] = 3;
  });
  expect_bad_input(run_r1("score -m " + dir, "{}"), {"missing tensor model.layers.2."});
  std::ofstream(dir + "/config.json") << "{\"hidden_size\": ";
  expect_bad_input(run_r1("score -m " + dir, "{}"), {"config.json", "JSON"});
  fs::remove(dir + "/config.json");
  expect_bad_input(run_r1("score -m " + dir, "{}"), {"config.json"});
}

TEST(BadInput, UnsupportedDtype) {
  // Rewrite one tensor's dtype in the header to a type dense models do not take.
  std::string dir = copy_fixture("qwen2-f32", "dtype");
  std::string path = dir + "/model.safetensors";
  std::string data;
  {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    data = s.str();
  }
  size_t at = data.find("\"model.norm.weight\":{\"dtype\":\"F32\"");
  ASSERT_NE(at, std::string::npos);
  data.replace(data.find("F32", at), 3, "I32");
  std::ofstream(path, std::ios::binary) << data;
  expect_bad_input(run_r1("score -m " + dir, "{}"), {"model.norm.weight", "I32"});
}

}  // namespace

namespace {

TEST(ChatCli, ScriptedConversation) {
  Result r =
      run_r1("chat -n 6 --seed 1", "Tom has 3 apples.\n/reset\n/help\nline one \\\nline two\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(conversation cleared)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/reset"), std::string::npos) << "help text";
  EXPECT_NE(r.out.find("(reply cut at 6 tokens)"), std::string::npos) << r.out;
  Result bad = run_r1("chat -n 0", "hi\n");
  expect_bad_input(bad, {"-n"});
}

TEST(GenerateCli, ChatSplitsReasoningFromContent) {
  // The bundled model reasons, closes </think> and answers in a box; greedy, so the same every
  // run. The reasoning is what comes before </think>, the content what follows (FACTS.md s. 5).
  Result r = run_r1("generate --chat -p 'What is 12 + 30?' -n 300 --temperature 0 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json o = json::parse(r.out);
  const std::string text = o["text"], reasoning = o["reasoning"], content = o["content"];
  const size_t end = text.find("</think>");
  ASSERT_NE(end, std::string::npos) << text;
  EXPECT_EQ(reasoning, text.substr(0, end));
  EXPECT_FALSE(reasoning.empty());
  EXPECT_NE(content.find("\\boxed{42}"), std::string::npos) << content;
  EXPECT_EQ(content.find("</think>"), std::string::npos) << content;
  EXPECT_EQ(o["finish_reason"], "stop");
  // Cut before </think>: everything is reasoning, the content is empty.
  Result cut = run_r1("generate --chat -p 'What is 12 + 30?' -n 4 --temperature 0 --json");
  ASSERT_EQ(cut.code, 0) << cut.err;
  json c = json::parse(cut.out);
  EXPECT_EQ(c["reasoning"], c["text"]);
  EXPECT_EQ(c["content"], "");
  EXPECT_EQ(c["finish_reason"], "length");
  expect_bad_input(run_r1("generate -p x --system 'be brief'"), {"--system", "--chat"});
}

}  // namespace
