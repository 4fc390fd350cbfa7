// The tensor table against checkpoints written independently (tools/reference/make_fixtures.py
// and make_deepseek_fixtures.py, from Hugging Face's module definitions): every tensor a
// checkpoint holds is in the table with its shape, and every stored table entry is in the
// checkpoint (models/weights_test.cc checks a loaded model's parameter slots against it).
#include "io/tensor_table.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "io/safetensors.h"

namespace r1::io {
namespace {

std::string fixture(const std::string& name) {
  return std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/" + name;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class TableFixtures : public ::testing::TestWithParam<const char*> {};

TEST_P(TableFixtures, ListsExactlyTheCheckpointsTensors) {
  const ModelConfig cfg = ModelConfig::load(fixture(GetParam()));
  const WeightStore store = WeightStore::open_dir(fixture(GetParam()));
  const bool mtp = store.has("model.layers." + std::to_string(cfg.n_layers) + ".eh_proj.weight");
  std::map<std::string, std::vector<int64_t>> table;
  for (const TensorSpec& s : tensor_table(cfg, mtp))
    if (s.stored()) table[s.name] = s.shape;
  std::set<std::string> seen;
  for (const std::string& name : store.names()) {
    if (ends_with(name, ".weight_scale_inv")) continue;  // an fp8 weight's scales, with it
    auto it = table.find(name);
    if (it == table.end()) {
      ADD_FAILURE() << name << " is not in the table";
      continue;
    }
    EXPECT_EQ(store.info(name).shape, it->second) << name;
    seen.insert(name);
  }
  for (const auto& [name, shape] : table) {
    const bool optional_absent = !store.has(name) && (ends_with(name, "embed_tokens.weight") ||
                                                      ends_with(name, "shared_head.head.weight"));
    EXPECT_TRUE(seen.count(name) || optional_absent) << name << " is not in the checkpoint";
  }
}

INSTANTIATE_TEST_SUITE_P(All, TableFixtures,
                         ::testing::Values("qwen2-f32", "qwen2-tied-bf16", "llama-llama3rope-f32",
                                           "llama-bf16-sharded", "llama-mlpbias-f32", "dsv3-bf16",
                                           "dsv3-fp8", "dsv3-qproj-f32"));

TEST(TensorTable, LlamaNamesAndRopeRowsForGguf) {
  ModelConfig c = ModelConfig::load(fixture("llama-mlpbias-f32"));
  std::map<std::string, TensorSpec> by_name;
  for (const TensorSpec& s : tensor_table(c)) by_name[s.name] = s;
  EXPECT_EQ(by_name["model.layers.1.self_attn.q_proj.weight"].gguf, "blk.1.attn_q.weight");
  EXPECT_EQ(by_name["model.layers.1.self_attn.q_proj.weight"].rope_heads, c.n_heads);
  EXPECT_EQ(by_name["model.layers.1.self_attn.k_proj.weight"].rope_heads, c.n_kv_heads);
  EXPECT_EQ(by_name["model.layers.1.self_attn.v_proj.weight"].rope_heads, 0);
  EXPECT_EQ(by_name["model.layers.0.mlp.down_proj.bias"].gguf, "blk.0.ffn_down.bias");
  EXPECT_EQ(by_name["model.layers.0.mlp.down_proj.bias"].init, InitKind::Zeros);
  // tied: lm_head is the embedding, not stored, not written to GGUF
  EXPECT_FALSE(by_name["lm_head.weight"].stored());
  EXPECT_EQ(by_name["lm_head.weight"].alias, "model.embed_tokens.weight");
  EXPECT_TRUE(by_name["lm_head.weight"].gguf.empty());
  // Qwen2 rows are not interleaved in llama.cpp's files
  for (const TensorSpec& s : tensor_table(ModelConfig::load(fixture("qwen2-f32"))))
    EXPECT_EQ(s.rope_heads, 0) << s.name;
}

}  // namespace
}  // namespace r1::io
