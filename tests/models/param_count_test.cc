// Parameter counts from config.json against the published sizes.
#include "models/param_count.h"

#include <gtest/gtest.h>

namespace r1::models {
namespace {

TEST(ParamCount, DeepSeekR1) {
  // DeepSeek-V3/R1: 671B parameters in the main model, 37B activated per token, plus a 14B MTP
  // module (DeepSeek-V3 technical report / model card: 685B on Hugging Face).
  auto cfg =
      io::ModelConfig::load(std::string(R1_SOURCE_DIR) + "/tests/fixtures/configs/deepseek-r1");
  ParamCount pc = count_params(cfg, 2);
  const double main_b = (pc.total_params - pc.mtp_params) / 1e9;
  EXPECT_NEAR(main_b, 671, 671 * 0.01) << main_b;
  EXPECT_NEAR(pc.total_params / 1e9, 685, 685 * 0.01);
  EXPECT_NEAR(pc.mtp_params / 1e9, 14, 14 * 0.1);
  EXPECT_NEAR(pc.active_params / 1e9, 37, 37 * 0.05) << pc.active_params / 1e9;
  // 576 cached values per token per layer for the absorbed form, 40,960 for the naive one
  // (docs/FACTS.md section 2), in f32.
  EXPECT_EQ(pc.kv_bytes_per_token, 61 * 576 * 4);
  EXPECT_EQ(pc.naive_kv_bytes_per_token, 61 * 128 * 320 * 4);
  EXPECT_GT(pc.bytes_by_dtype["F8_E4M3"], 600e9);
}

TEST(ParamCount, DenseQwen) {
  io::ModelConfig cfg = io::ModelConfig::parse(
      nlohmann::json::parse(R"({"architectures": ["Qwen2ForCausalLM"], "hidden_size": 1536,
        "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
        "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": false})"),
      "config.json");
  // R1-Distill-Qwen-1.5B: 1.78B parameters (its safetensors hold 3.55 GB in bf16).
  ParamCount pc = count_params(cfg, 2);
  EXPECT_NEAR(pc.total_params / 1e9, 1.777, 0.01);
  EXPECT_EQ(pc.kv_bytes_per_token, 28 * 2 * 2 * 128 * 4);
}

}  // namespace
}  // namespace r1::models
