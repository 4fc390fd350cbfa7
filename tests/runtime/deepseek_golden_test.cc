// DeepSeek-V3 (MLA, MoE, YaRN, FP8, MTP) against the PyTorch reference goldens of
// tools/reference/make_deepseek_fixtures.py (itself checked against the official
// inference/model.py formulation by check_deepseek_v3.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "models/deepseek_v3.h"
#include "runtime/generator.h"
#include "runtime/score.h"

namespace r1::runtime {
namespace {

using nlohmann::json;

using r1::testing::fixture_dir;
using r1::testing::read_jsonl;

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

class DeepseekGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(DeepseekGolden, ScoreMatchesReference) {
  const std::string dir = fixture_dir(GetParam());
  auto model = models::load_model(dir);
  double worst = 0;
  for (const json& row : read_jsonl(dir + "/golden.jsonl")) {
    auto ids = row["ids"].get<std::vector<int32_t>>();
    auto gold = row["logprobs"].get<std::vector<double>>();
    for (int64_t chunk : {256, 9})
      worst = std::max(worst, max_diff(score_tokens(*model, ids, chunk), gold));
  }
  EXPECT_LE(worst, 1e-3) << GetParam();
}

TEST_P(DeepseekGolden, AbsorbedAttentionEqualsNaive) {
  auto model = models::load_model(fixture_dir(GetParam()));
  auto* ds = dynamic_cast<models::DeepseekV3Model*>(model.get());
  ASSERT_NE(ds, nullptr);
  auto rows = read_jsonl(fixture_dir(GetParam()) + "/golden.jsonl");
  auto ids = rows[3]["ids"].get<std::vector<int32_t>>();  // 40 tokens
  std::vector<double> absorbed = score_tokens(*model, ids, 7);
  ds->set_naive_attention(true);
  std::vector<double> naive = score_tokens(*model, ids, 7);
  EXPECT_LE(max_diff(absorbed, naive), 1e-4);
  // The latent cache holds kv_lora_rank + qk_rope_head_dim floats per token per layer; the naive
  // one per-head keys and values.
  const auto& d = model->config().ds;
  EXPECT_EQ(ds->absorbed_cache_bytes_per_token(),
            model->config().n_layers * (d.kv_lora_rank + d.qk_rope_head_dim) * 4);
  EXPECT_GT(ds->naive_cache_bytes_per_token(), ds->absorbed_cache_bytes_per_token());
}

TEST_P(DeepseekGolden, GreedyGenerationMatchesReference) {
  const std::string dir = fixture_dir(GetParam());
  auto model = models::load_model(dir);
  int compared = 0;
  for (const json& row : read_jsonl(dir + "/golden_top.jsonl")) {
    GenRequest r;
    r.prompt = row["ids"].get<std::vector<int32_t>>();
    r.sampling.temperature = 0;
    r.max_tokens = 16;
    Generator gen(*model, nullptr, {});
    GenOutput out = gen.run({r})[0];
    auto greedy = row["greedy"].get<std::vector<int32_t>>();
    auto margins = row["greedy_margins"].get<std::vector<double>>();
    for (size_t j = 0; j < greedy.size(); ++j) {
      ASSERT_EQ(out.tokens.at(j), greedy[j]) << "step " << j;
      ++compared;
      if (margins[j] < 1e-3) break;
    }
  }
  EXPECT_GT(compared, 40);
}

const char* kFixtures[] = {"dsv3-bf16", "dsv3-fp8", "dsv3-qproj-f32"};
INSTANTIATE_TEST_SUITE_P(Fixtures, DeepseekGolden, ::testing::ValuesIn(kFixtures));

class DeepseekMtp : public ::testing::TestWithParam<const char*> {};

TEST_P(DeepseekMtp, MtpLogprobsMatchReference) {
  const std::string dir = fixture_dir(GetParam());
  auto model = models::load_model(dir);
  ASSERT_TRUE(dynamic_cast<models::DeepseekV3Model*>(model.get())->has_mtp());
  double worst = 0;
  auto main_rows = read_jsonl(dir + "/golden.jsonl");
  auto rows = read_jsonl(dir + "/golden_mtp.jsonl");
  for (size_t i = 0; i < rows.size(); ++i) {
    auto ids = rows[i]["ids"].get<std::vector<int32_t>>();
    for (int64_t chunk : {256, 9}) {
      MtpScores s = score_tokens_mtp(*model, ids, chunk);
      worst = std::max(
          worst, max_diff(s.mtp_logprobs, rows[i]["mtp_logprobs"].get<std::vector<double>>()));
      worst = std::max(worst,
                       max_diff(s.logprobs, main_rows[i]["logprobs"].get<std::vector<double>>()));
    }
  }
  EXPECT_LE(worst, 1e-3);
}

const char* kMtpFixtures[] = {"dsv3-bf16", "dsv3-fp8"};
INSTANTIATE_TEST_SUITE_P(Fixtures, DeepseekMtp, ::testing::ValuesIn(kMtpFixtures));

}  // namespace
}  // namespace r1::runtime
