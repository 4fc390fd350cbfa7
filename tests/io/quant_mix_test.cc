// The types llama.cpp's quantizer gives each matrix (llama-quant.cpp's llama_tensor_get_type for
// Q4_K_M and Q4_0, on a dense model without an importance matrix), restated as the lists they
// produce for R1-Distill-Qwen-1.5B's 28 layers.
#include <gtest/gtest.h>

#include <set>

#include "io/quant_mix.h"

namespace r1::io {
namespace {

std::string layer(int l, const std::string& rest) {
  return "model.layers." + std::to_string(l) + "." + rest;
}

TEST(QuantMix, Q4_K_MOnTwentyEightLayers) {
  // use_more_bits(i, 28): i < 3, i >= 24, or (i - 3) % 3 == 2.
  const std::set<int> more = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
  for (int l = 0; l < 28; ++l) {
    const DType want = more.count(l) ? DType::Q6_K : DType::Q4_K;
    EXPECT_EQ(
        quant_mix_type(QuantMix::Q4_K_M, layer(l, "self_attn.v_proj.weight"), 1536, 28, false),
        want)
        << l;
    EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, layer(l, "mlp.down_proj.weight"), 8960, 28, false),
              want)
        << l;
    EXPECT_EQ(
        quant_mix_type(QuantMix::Q4_K_M, layer(l, "self_attn.q_proj.weight"), 1536, 28, false),
        DType::Q4_K);
    EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, layer(l, "mlp.up_proj.weight"), 1536, 28, false),
              DType::Q4_K);
  }
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, "lm_head.weight", 1536, 28, false), DType::Q6_K);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, "model.embed_tokens.weight", 1536, 28, false),
            DType::Q4_K);
  // tied: the embeddings are the output layer
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, "model.embed_tokens.weight", 1536, 28, true),
            DType::Q6_K);
}

TEST(QuantMix, FallbacksAndOtherMixes) {
  // Qwen2.5-0.5B's rows of 896 are not whole 256-blocks.
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, layer(3, "self_attn.q_proj.weight"), 896, 24, true),
            DType::Q5_0);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, "model.embed_tokens.weight", 896, 24, true),
            DType::Q8_0);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, layer(3, "mlp.down_proj.weight"), 4864, 24, true),
            DType::Q4_K);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, layer(3, "mlp.up_proj.weight"), 40, 24, true),
            DType::F16);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_K_M, "lm_head.weight", 40, 24, false), DType::F16);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_0, layer(3, "mlp.up_proj.weight"), 1536, 28, false),
            DType::Q4_0);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_0, "lm_head.weight", 1536, 28, false), DType::Q6_K);
  EXPECT_EQ(quant_mix_type(QuantMix::Q8_0, "lm_head.weight", 1536, 28, false), DType::Q8_0);
  // rows of 40 hold no whole 32-block: F16, as llama.cpp's quantizer writes them
  EXPECT_EQ(quant_mix_type(QuantMix::Q8_0, layer(3, "mlp.up_proj.weight"), 40, 28, false),
            DType::F16);
  EXPECT_EQ(quant_mix_type(QuantMix::Q4_0, "lm_head.weight", 40, 28, false), DType::F16);
  EXPECT_EQ(quant_mix_type(QuantMix::BF16, "lm_head.weight", 40, 28, false), DType::BF16);
  EXPECT_EQ(quant_mix_type(QuantMix::BF16, "lm_head.weight", 1536, 28, false), DType::BF16);
  QuantMix m;
  EXPECT_TRUE(parse_quant_mix("q4_k_m", &m));
  EXPECT_EQ(m, QuantMix::Q4_K_M);
  EXPECT_EQ(quant_mix_file_type(m), 15);
  EXPECT_FALSE(parse_quant_mix("q4_k", &m));
}

}  // namespace
}  // namespace r1::io
