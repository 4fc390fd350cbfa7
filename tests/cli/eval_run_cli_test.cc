// r1 eval -m: a run writes per-sample JSONL and a summary, and an interrupted run resumes
// without redoing or losing samples (the redone ones are identical: per-sample seeds).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include "cli_run.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../common/temp_path.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int run(const std::string& args, std::string* err = nullptr) {
  r1::testing::CliResult r = r1::testing::run_r1(args);
  if (err) *err = r.err;
  return r.code;
}

std::vector<std::string> lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> v;
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

TEST(EvalRunCli, WritesSamplesAndSummaryAndResumes) {
  const std::string data = std::string(R1_SOURCE_DIR) + "/data/gsm8k_test.jsonl";
  const fs::path dir = fs::path(r1::testing::fresh_temp_dir("r1_eval_run_")) / "run";
  const std::string cmd =
      "eval --data " + data + " --task gsm8k -k 2 --limit 3 -n 12 --batch 4 --out " + dir.string();
  std::string err;
  ASSERT_EQ(run(cmd, &err), 0) << err;
  auto first = lines((dir / "samples.jsonl").string());
  ASSERT_EQ(first.size(), 6u);
  json summary = json::parse(std::ifstream(dir / "summary.json"));
  EXPECT_EQ(summary["problems"], 3);
  EXPECT_EQ(summary["samples"], 6);
  EXPECT_TRUE(summary.contains("pass@1") && summary.contains("cons@2"));
  EXPECT_TRUE(fs::exists(dir / "summary.md"));

  // Interrupt: keep 3 samples and half of a fourth line, then rerun.
  {
    std::ofstream out(dir / "samples.jsonl", std::ios::trunc);
    for (int i = 0; i < 3; ++i) out << first[i] << "\n";
    out << first[3].substr(0, first[3].size() / 2);
  }
  ASSERT_EQ(run(cmd, &err), 0) << err;
  EXPECT_NE(err.find("resuming"), std::string::npos) << err;
  auto second = lines((dir / "samples.jsonl").string());
  ASSERT_EQ(second.size(), 6u);
  std::multiset<std::string> a(first.begin(), first.end()), b(second.begin(), second.end());
  EXPECT_EQ(a, b) << "the same samples, redone ones identical";

  // Different settings in the same folder are refused, not mixed.
  EXPECT_EQ(
      run("eval --data " + data + " --task gsm8k -k 3 --limit 3 -n 12 --out " + dir.string(), &err),
      2);
  EXPECT_NE(err.find("other settings"), std::string::npos) << err;
}

TEST(EvalRunCli, BadDataIsAnErrorWithItsLine) {
  const fs::path tmp = r1::testing::fresh_temp_dir("r1_eval_bad_");
  const fs::path bad = tmp / "r1_eval_bad.jsonl";
  std::ofstream(bad) << "{\"question\": \"1+1?\", \"answer\": \"#### 2\"}\n{\"question\": 3}\n";
  std::string err;
  EXPECT_EQ(
      run("eval --data " + bad.string() + " --task gsm8k --out " + (tmp / "out").string(), &err),
      2);
  EXPECT_NE(err.find("r1_eval_bad.jsonl:2:"), std::string::npos) << err;
  EXPECT_EQ(run("eval --task gsm8k", &err), 2);
  EXPECT_NE(err.find("--data"), std::string::npos) << err;
}

TEST(EvalRunCli, BundledSetsByName) {
  // amc23 is the bundled data/amc23.jsonl, graded as task aime unless --task says otherwise.
  const fs::path dir = fs::path(r1::testing::fresh_temp_dir("r1_eval_bundled_")) / "run";
  std::string err;
  ASSERT_EQ(run("eval --data amc23 --limit 2 -n 4 --out " + dir.string(), &err), 0) << err;
  EXPECT_EQ(lines((dir / "samples.jsonl").string()).size(), 2u);
  json settings = json::parse(std::ifstream(dir / "run.json"));
  EXPECT_EQ(settings["data"], "amc23");
  EXPECT_EQ(settings["task"], "aime");
  EXPECT_EQ(run("eval --data amc24 --limit 1 --out " + dir.string() + "x", &err), 2);
  EXPECT_NE(err.find("amc24"), std::string::npos) << err;
}

}  // namespace
