// r1 train init / sft / pretrain end to end through the binary, and their bad-input handling.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../common/temp_path.h"
#include "cli_run.h"

namespace r1 {
namespace {

using testing::run_r1;
namespace fs = std::filesystem;

const std::string kTok = std::string(R1_SOURCE_DIR) + "/models/r1-tiny-random";

// A new folder for one test, removed when the test program exits.
std::string temp_dir(const std::string& name) {
  return r1::testing::fresh_temp_dir("r1_train_cli_" + name + "_");
}

int count_lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(TrainCli, InitTrainThenGenerateFromTheCheckpoint) {
  const std::string d = temp_dir("e2e");
  auto init = run_r1("train init --tokenizer " + kTok + " --hidden 32 --layers 2 --heads 4 " +
                     "--kv-heads 2 --intermediate 64 --seed 1 --out " + d + "/init");
  ASSERT_EQ(init.code, 0) << init.err;
  EXPECT_NE(init.out.find("parameters"), std::string::npos);
  {
    std::ofstream f(d + "/sft.jsonl");
    for (int i = 0; i < 12; ++i)
      f << R"({"prompt": "What is 2 + )" << i
        << R"(?", "response": "<think>\nadd\n</think>\n\n\\boxed{)" << 2 + i << "}\"}\n";
    std::ofstream t(d + "/text.txt");
    for (int i = 0; i < 30; ++i) t << "the cat sat on mat number " << i << "\n";
  }
  auto sft = run_r1("train sft -m " + d + "/init --data " + d + "/sft.jsonl --out " + d +
                    "/sft --steps 4 --batch-tokens 200 --seq-len 64 --eval-fraction 0.25 " +
                    "--eval-every 2 --save-every 2");
  ASSERT_EQ(sft.code, 0) << sft.err;
  EXPECT_NE(sft.err.find("step 4/4"), std::string::npos) << sft.err;
  EXPECT_NE(sft.err.find("eval loss"), std::string::npos) << sft.err;
  EXPECT_NE(sft.err.find("tok/s"), std::string::npos) << sft.err;
  EXPECT_NE(sft.err.find("eta"), std::string::npos) << sft.err;
  EXPECT_TRUE(fs::exists(d + "/sft/checkpoints/step-0000004/optimizer.safetensors"));
  EXPECT_TRUE(fs::exists(d + "/sft/loss.svg"));
  // The trained folder and the checkpoint folder load in the other commands unchanged.
  for (const std::string& m : {d + "/sft", d + "/sft/checkpoints/step-0000004"}) {
    auto gen = run_r1("generate -m " + m + " --chat -p 'What is 2 + 3?' -n 6 --temperature 0");
    EXPECT_EQ(gen.code, 0) << gen.err;
  }
  auto pre = run_r1("train pretrain -m " + d + "/sft --data " + d + "/text.txt --out " + d +
                    "/pre --steps 3 --seq-len 16 --batch-tokens 64 --save-dtype bf16");
  ASSERT_EQ(pre.code, 0) << pre.err;
  EXPECT_NE(testing::slurp_file(d + "/pre/config.json").find("bfloat16"), std::string::npos);
  EXPECT_EQ(run_r1("score -m " + d + "/pre", R"({"text": "the cat"})").code, 0);
}

std::vector<double> losses(const std::string& log) {
  std::vector<double> out;
  std::istringstream in(testing::slurp_file(log));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out.push_back(j["loss"].get<double>());
  }
  return out;
}

// --bf16-matmul trains the same model to within bf16 rounding of the f32 run (where the CPU has
// bf16 dot products; elsewhere it says so and trains in f32, the same losses).
TEST(TrainCli, Bf16MatmulFollowsTheF32LossCurve) {
  const std::string d = temp_dir("bf16");
  ASSERT_EQ(run_r1("train init --tokenizer " + kTok + " --hidden 64 --layers 2 --heads 4 " +
                   "--kv-heads 2 --intermediate 128 --seed 3 --out " + d + "/init")
                .code,
            0);
  {
    std::ofstream t(d + "/text.txt");
    for (int i = 0; i < 200; ++i) t << "the cat sat on mat number " << i * 7 % 31 << "\n";
  }
  const std::string common = "train pretrain -m " + d + "/init --data " + d +
                             "/text.txt --steps 8 --seq-len 32 --batch-tokens 264 --lr 3e-3 ";
  auto f32 = run_r1(common + "--out " + d + "/f32");
  ASSERT_EQ(f32.code, 0) << f32.err;
  auto bf16 = run_r1(common + "--out " + d + "/bf16 --bf16-matmul");
  ASSERT_EQ(bf16.code, 0) << bf16.err;
  const auto a = losses(d + "/f32/train_log.jsonl"), b = losses(d + "/bf16/train_log.jsonl");
  ASSERT_EQ(a.size(), 8u);
  ASSERT_EQ(b.size(), 8u);
  EXPECT_LT(a.back(), a.front() - 0.5);  // it learns
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 0.01 * a[i]) << "step " << i + 1;
}

void expect_usage_error(const testing::CliResult& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// SFT of LoRA adapters only: a PEFT folder out, usable with --adapter and equal to its merge.
TEST(TrainCli, LoraAdapterThenMerge) {
  const std::string d = temp_dir("lora");
  {
    std::ofstream f(d + "/data.jsonl");
    for (int i = 0; i < 16; ++i)
      f << R"({"prompt": "What is 2 + 2?", "response": "4"})"
        << "\n";
  }
  auto r = run_r1("train sft -m r1-tiny-random --data " + d + "/data.jsonl --out " + d +
                  "/adapter --steps 3 --batch-tokens 128 --lr 1e-2 --lora-rank 4 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(d + "/adapter/adapter_config.json"));
  EXPECT_TRUE(fs::exists(d + "/adapter/adapter_model.safetensors"));
  EXPECT_FALSE(fs::exists(d + "/adapter/model.safetensors"));
  const std::string gen = "generate -p 'What is 2 + 2?' -n 8 --temperature 0 --json --threads 1";
  const auto with = run_r1(gen + " -m r1-tiny-random --adapter " + d + "/adapter");
  ASSERT_EQ(with.code, 0) << with.err;
  ASSERT_EQ(
      run_r1("train merge -m r1-tiny-random --adapter " + d + "/adapter --out " + d + "/merged")
          .code,
      0);
  const auto merged = run_r1(gen + " -m " + d + "/merged");
  ASSERT_EQ(merged.code, 0) << merged.err;
  EXPECT_EQ(nlohmann::json::parse(with.out)["tokens"], nlohmann::json::parse(merged.out)["tokens"]);
  const auto plain = run_r1(gen + " -m r1-tiny-random");
  EXPECT_NE(nlohmann::json::parse(with.out)["tokens"], nlohmann::json::parse(plain.out)["tokens"]);
  EXPECT_EQ(run_r1("generate -p x --adapter /nonexistent").code, 2);
}

TEST(TrainCli, BadInputIsOneLineAndExitCode2) {
  const std::string d = temp_dir("bad");
  expect_usage_error(run_r1("train init --arch mamba --tokenizer " + kTok + " --out " + d + "/x"),
                     "mamba");
  expect_usage_error(run_r1("train init --out " + d + "/x"), "--tokenizer");
  expect_usage_error(
      run_r1("train init --tokenizer " + kTok + " --heads 3 --kv-heads 2 --out " + d + "/x"),
      "kv-heads");
  ASSERT_EQ(run_r1("train init --tokenizer " + kTok + " --hidden 32 --layers 1 --heads 2 --out " +
                   d + "/m")
                .code,
            0);
  expect_usage_error(run_r1("train init --tokenizer " + kTok + " --out " + d + "/m"),
                     "already exists");  // never overwrites a folder
  expect_usage_error(run_r1("train"), "choose one of");
  EXPECT_NE(run_r1("help train").out.find("train sft"), std::string::npos);
  for (const char* help : {"train grpo --help", "train sft -m x -h", "help train grpo"}) {
    const auto h = run_r1(help);  // the command's flags, not "flag --help needs a value"
    EXPECT_EQ(h.code, 0) << help;
    EXPECT_EQ(h.out.rfind("r1 train ", 0), 0u) << help << ": " << h.out;
    EXPECT_NE(h.out.find("--lr"), std::string::npos) << help;
  }
  expect_usage_error(run_r1("train sft -m " + d + "/m --out " + d + "/o"), "--data");
  expect_usage_error(run_r1("train sft --data x --out " + d + "/o"), "-m DIR");
  expect_usage_error(run_r1("train sft -m " + d + "/m --data /nonexistent.jsonl --out " + d + "/o"),
                     "/nonexistent.jsonl");
  {
    std::ofstream(d + "/bad.jsonl") << R"({"prompt": "a", "response": "b"})"
                                    << "\n{oops\n";
  }
  expect_usage_error(
      run_r1("train sft -m " + d + "/m --data " + d + "/bad.jsonl --out " + d + "/o"),
      "bad.jsonl:2");
  expect_usage_error(
      run_r1("train sft -m " + d + "/m --data " + d + "/bad.jsonl --out " + d + "/o --resume"),
      "no checkpoint");
  expect_usage_error(run_r1("train sft -m " + d + "/m --data x --out y --lr -1"), "--lr");
  expect_usage_error(run_r1("train sft --frobnicate"), "--frobnicate");
}

}  // namespace
}  // namespace r1
