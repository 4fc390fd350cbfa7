// The bundled default model (models/r1-arith, trained by r1 itself with
// recipes/r1-arith/train.sh) answers arithmetic word problems in R1's shape and keeps its
// accuracy on held-out problems it never saw in training.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli_run.h"

namespace r1 {
namespace {

using testing::run_r1;

// Measured on all 500 held-out problems with greedy decoding: see models/r1-arith/README.md.
// The test runs the first 100 (a mix of every kind) and requires at least this pass@1.
constexpr double kAccuracyFloor = 0.95;  // measured: 100 of the first 100, 498 of 500

TEST(BundledModel, IsTheDefaultAndAnswersInR1Shape) {
  auto r = run_r1(
      "generate --chat -p 'Tom has 3 apples and buys 4 more. How many apples does he have?' "
      "-n 200 --temperature 0 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const std::string text = j.dump();
  EXPECT_NE(text.find("\\\\boxed{7}"), std::string::npos) << text;
  EXPECT_NE(text.find("3 + 4"), std::string::npos) << text;
}

TEST(BundledModel, HeldOutAccuracyStaysAboveTheFloor) {
  const std::string out = std::filesystem::temp_directory_path() / "r1_bundled_eval";
  std::filesystem::remove_all(out);
  auto r = run_r1("eval --data " + std::string(R1_SOURCE_DIR) +
                  "/tests/fixtures/arith/heldout-500.jsonl --task math -k 1 --temperature 0 "
                  "-n 400 --batch 50 --limit 100 --out " +
                  out);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto s = nlohmann::json::parse(testing::slurp_file(out + "/summary.json"));
  EXPECT_EQ(s["problems"], 100);
  EXPECT_GE(s["pass@1"].get<double>(), kAccuracyFloor) << s.dump();
  EXPECT_EQ(s["truncation_rate"].get<double>(), 0.0) << s.dump();
}

}  // namespace
}  // namespace r1
