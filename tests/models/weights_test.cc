// A loaded model's parameter slots are its tensor table (io/tensor_table.h): one named slot per
// tensor the checkpoint holds, aliases unnamed; and its bytes per decode step are the table's.
#include "models/weights.h"

#include <gtest/gtest.h>

#include <set>

#include "models/model.h"

namespace r1::models {
namespace {

std::string fixture(const std::string& name) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/" + name;
}

class WeightsFixtures : public ::testing::TestWithParam<const char*> {};

TEST_P(WeightsFixtures, ParameterSlotsAreTheTable) {
  LoadOptions opt;
  opt.pack = false;
  auto model = load_model(fixture(GetParam()), opt);
  const io::ModelConfig& cfg = model->config();
  const io::WeightStore store = io::WeightStore::open_dir(fixture(GetParam()));
  const bool mtp = store.has("model.layers." + std::to_string(cfg.n_layers) + ".eh_proj.weight");
  std::set<std::string> named;
  for (const ParamSlot& s : model->parameter_slots()) {
    if (s.name.empty()) continue;  // an alias
    EXPECT_TRUE(s.t->defined()) << s.name;
    EXPECT_TRUE(named.insert(s.name).second) << s.name << " twice";
  }
  std::set<std::string> want;
  for (const io::TensorSpec& s : io::tensor_table(cfg, mtp))
    if (store.has(s.name)) want.insert(s.name);
  EXPECT_EQ(named, want);
}

INSTANTIATE_TEST_SUITE_P(All, WeightsFixtures,
                         ::testing::Values("qwen2-f32", "qwen2-tied-bf16", "llama-llama3rope-f32",
                                           "llama-bf16-sharded", "llama-mlpbias-f32", "dsv3-bf16",
                                           "dsv3-fp8", "dsv3-qproj-f32"));

// Bytes per decode step: every matrix and norm, one embedding row, a tied lm_head once more (it is
// read whole), counted by hand for the tied Llama fixture.
TEST(Weights, BytesPerTokenOfATiedModel) {
  LoadOptions opt;
  opt.pack = false;
  auto model = load_model(fixture("llama-mlpbias-f32"), opt);
  const io::ModelConfig& c = model->config();
  const uint64_t H = static_cast<uint64_t>(c.hidden), I = static_cast<uint64_t>(c.intermediate),
                 V = static_cast<uint64_t>(c.vocab);
  const uint64_t q = static_cast<uint64_t>(c.n_heads * c.head_dim),
                 kv = static_cast<uint64_t>(c.n_kv_heads * c.head_dim);
  const uint64_t layer = 2 * H + q * H + 2 * kv * H + H * q + 3 * H * I + 2 * I + H;
  EXPECT_EQ(model->weight_bytes_per_token(),
            4 * (H + H + V * H + static_cast<uint64_t>(c.n_layers) * layer));
}

}  // namespace
}  // namespace r1::models
