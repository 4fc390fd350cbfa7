// r1 bench --quality: the reference perplexity equals the one r1 score's log-probabilities give
// for the same window (BOS, then the text's first tokens; the second half scored), the formats
// rank by their bits on a model with structure (the bundled arithmetic model on held-out
// problems); and which bf16 path each command takes by default.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli_run.h"
#include "core/cpu_features.h"
#include "kernels/kernels.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using r1::testing::run_r1;
using r1::testing::source;

std::string arith_text() {
  const std::string path =
      (fs::temp_directory_path() / ("r1_quality_" + std::to_string(getpid()) + ".jsonl")).string();
  auto r = run_r1(
      "tasks arithmetic --split test --format text --worked-fraction 1 --n 120 "
      "--seed 3 --out " +
      path);
  EXPECT_EQ(r.code, 0) << r.err;
  return path;
}

TEST(Quality, ReferencePerplexityIsRScoresOnTheSameWindow) {
  const std::string text = arith_text(), model = source("models/r1-arith");
  auto q = run_r1("bench -m " + model + " --quality " + text +
                  " --formats q8_0 --ctx-window 64 --quality-tokens 31 --json");
  ASSERT_EQ(q.code, 0) << q.err;
  const json j = json::parse(q.out);
  ASSERT_EQ(j["windows"], 1);
  ASSERT_EQ(j["positions"], 31);  // predictions from positions 32 .. 62 of 64
  // The window: BOS, then the first 63 tokens of the documents joined by a blank line.
  std::string joined;
  std::istringstream rows(r1::testing::slurp_file(text));
  for (std::string line; std::getline(rows, line);)
    joined += (joined.empty() ? "" : "\n\n") + json::parse(line)["text"].get<std::string>();
  auto t = run_r1("tokenize -m " + model, joined);
  ASSERT_EQ(t.code, 0) << t.err;
  std::vector<int> ids = json::parse(t.out).get<std::vector<int>>();
  auto cfg = json::parse(r1::testing::slurp_file(model + "/config.json"));
  std::vector<int> window = {cfg["bos_token_id"].get<int>()};
  window.insert(window.end(), ids.begin(), ids.begin() + 63);
  auto s = run_r1("score -m " + model, json{{"ids", window}}.dump());
  ASSERT_EQ(s.code, 0) << s.err;
  const std::vector<double> lp = json::parse(s.out)["logprobs"].get<std::vector<double>>();
  ASSERT_EQ(lp.size(), 63u);
  double nll = 0;
  for (size_t i = 32; i < 63; ++i) nll -= lp[i];
  EXPECT_NEAR(j["reference"]["ppl"].get<double>(), std::exp(nll / 31), 1e-4 * std::exp(nll / 31));
  fs::remove(text);
}

// --decode scores the same positions, each by a one-token forward after the window's earlier
// tokens: the reference perplexity is the whole-window one up to float rounding (the exact path
// with one row and with many), the stored weights without bf16 dot products are the reference
// itself (KL 0), and Q8_0 (int8 kernels for one row or many) moves as far from it either way.
TEST(Quality, DecodeScoresTheSamePositionsOneTokenAtATime) {
  const std::string text = arith_text(), model = source("models/r1-arith");
  const std::string cmd = "bench -m " + model + " --quality " + text +
                          " --formats stored,q8_0 --ctx-window 64 --quality-tokens 62 --json";
  auto whole = run_r1(cmd), dec = run_r1(cmd + " --decode");
  ASSERT_EQ(whole.code, 0) << whole.err;
  ASSERT_EQ(dec.code, 0) << dec.err;
  const json w = json::parse(whole.out), d = json::parse(dec.out);
  EXPECT_FALSE(w["decode"].get<bool>());
  EXPECT_TRUE(d["decode"].get<bool>());
  ASSERT_EQ(d["positions"], 62);  // two windows
  const double ppl = w["reference"]["ppl"].get<double>();
  EXPECT_NEAR(d["reference"]["ppl"].get<double>(), ppl, 1e-4 * ppl);
  EXPECT_EQ(d["formats"][0]["format"], "stored");
  EXPECT_EQ(d["formats"][0]["kl_mean"].get<double>(), 0.0);
  EXPECT_EQ(d["formats"][0]["top1"].get<double>(), 1.0);
  const double kq_whole = w["formats"][1]["kl_mean"].get<double>();
  const double kq_dec = d["formats"][1]["kl_mean"].get<double>();
  EXPECT_GT(kq_dec, 0.0);
  EXPECT_LT(kq_dec, 2 * kq_whole);
  EXPECT_GT(kq_dec, 0.5 * kq_whole);
  EXPECT_EQ(run_r1("bench -m " + model + " --decode").code, 2);  // only with --quality
  fs::remove(text);
}

TEST(Quality, FormatsRankByTheirBits) {
  const std::string text = arith_text();
  auto q = run_r1("bench -m " + source("models/r1-arith") + " --quality " + text +
                  " --ctx-window 256 --quality-tokens 1000 --json");
  ASSERT_EQ(q.code, 0) << q.err;
  const json j = json::parse(q.out);
  EXPECT_GE(j["positions"].get<int>(), 1000);
  std::map<std::string, json> f;
  for (const json& row : j["formats"]) f[row["format"].get<std::string>()] = row;
  ASSERT_EQ(f.size(), 7u);
  auto kl = [&](const char* n) { return f[n]["kl_mean"].get<double>(); };
  // Measured on this model (1,000+ positions): bf16 2e-5, bf16-fast 5e-5, Q8_0 6e-4, Q4_K_M
  // (Q5_0 here: rows of 192) 9e-3, Q4_0 3e-2.
  EXPECT_GT(kl("bf16"), 0);
  EXPECT_LT(kl("bf16"), kl("q8_0"));
  EXPECT_LT(kl("bf16-fast"), kl("q8_0"));
  EXPECT_LT(kl("q8_0"), kl("q4_k_m"));
  EXPECT_LT(kl("q4_k_m"), kl("q4_0"));
  EXPECT_LT(kl("q4_0"), 0.2);
  // Quantized weights with bf16 dot products (bf16 panels for 48+ rows where the CPU has them):
  // activations rounded to bf16 instead of 8 bits, so no further from the exact path (measured:
  // Q8_0 6e-4 -> 3e-4, Q4_K_M 9e-3 -> 8e-3).
  EXPECT_LT(kl("q8_0-fast"), 1.25 * kl("q8_0"));
  EXPECT_LT(kl("q4_k_m-fast"), 1.25 * kl("q4_k_m"));
  EXPECT_LT(kl("q8_0-fast"), kl("q4_k_m-fast"));
  EXPECT_GT(f["q8_0"]["top1"].get<double>(), 0.98);
  for (auto& [name, row] : f) EXPECT_GE(row["kl_p99"].get<double>(), 0) << name;
  // refusals: an unknown format, a quantized reference
  auto bad =
      run_r1("bench -m " + source("models/r1-arith") + " --quality " + text + " --formats q3_x");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("q3_x"), std::string::npos) << bad.err;
  bad = run_r1("bench -m " + source("models/r1-arith") + " --quality " + text + " --quantize q8_0");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("Q8_0"), std::string::npos) << bad.err;
  fs::remove(text);
}

// bf16 weights: bf16 dot products by default where the CPU has them natively (the AVX-512
// kernels) and faster than f32 FMA, the exact path with --exact and for r1 score.
TEST(Quality, Bf16PathDefaults) {
  const std::string m = " -m " + source("tests/fixtures/models/qwen2-tied-bf16") +
                        " --prompt-tokens 4 --gen-tokens 2 --reps 1 --no-bandwidth --json";
  auto dot = [&](const std::string& flags, const std::string& env) {
    auto r = run_r1("bench" + m + flags, "", env);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out)["bf16_dot"].get<bool>();
  };
  const bool avx512 = r1::kernels::isa_supported(r1::kernels::Isa::Avx512);
  // the default: where they are faster than f32 FMA (AMD's AVX-512 BF16; not Intel's vdpbf16ps)
  EXPECT_EQ(dot("", ""), avx512 && r1::cpu_features().bf16_dot_fast());
  EXPECT_FALSE(dot(" --exact", ""));
  EXPECT_TRUE(dot(" --fast-bf16", ""));
  EXPECT_FALSE(dot("", "R1_ISA=avx2"));
  EXPECT_EQ(run_r1("bench --exact --fast-bf16" + m).code, 2);
  // r1 score: exact unless asked, so its log-probabilities are the goldens'
  const std::string in = R"({"ids": [1, 5, 9, 200, 3]})";
  const std::string dir = " -m " + source("tests/fixtures/models/qwen2-tied-bf16");
  EXPECT_EQ(run_r1("score" + dir, in).out, run_r1("score --exact" + dir, in).out);
  if (avx512) {
    EXPECT_NE(run_r1("score" + dir, in).out, run_r1("score --fast-bf16" + dir, in).out);
  }
}

}  // namespace
