// RoPE frequency rules against the published numbers.
#include "models/rope.h"

#include <gtest/gtest.h>

#include <cmath>

namespace r1::models {
namespace {

TEST(Rope, YarnForDeepSeekR1) {
  // R1's rope_scaling (docs/FACTS.md section 2): correction range low 10, high 23 for dim 64, and
  // the softmax scale 192^-0.5 * mscale^2 = 0.1352338 with mscale = 0.1 * ln(40) + 1.
  io::RopeScaling y;
  y.type = "yarn";
  y.factor = 40;
  y.original_max_position_embeddings = 4096;
  y.beta_fast = 32;
  y.beta_slow = 1;
  y.mscale = 1;
  y.mscale_all_dim = 1;
  auto f = rope_inv_freq(64, 10000, y);
  auto base = rope_inv_freq(64, 10000, io::RopeScaling());
  for (int i = 0; i <= 10; ++i) EXPECT_FLOAT_EQ(f[i], base[i]) << i;             // kept
  for (int i = 23; i < 32; ++i) EXPECT_NEAR(f[i], base[i] / 40, 1e-12) << i;     // interpolated
  EXPECT_NEAR(f[16], base[16] / 40 * (6.0 / 13) + base[16] * (7.0 / 13), 1e-9);  // blend
  const double m = yarn_mscale(40, 1);
  EXPECT_NEAR(m, 1.368888, 1e-6);
  EXPECT_NEAR(m * m / std::sqrt(192.0), 0.1352338, 1e-7);
  EXPECT_DOUBLE_EQ(rope_attention_factor(y), 1.0);
}

TEST(Rope, Llama3Rule) {
  // Llama 3.1: factor 8, low 1, high 4, original 8192 (HF _compute_llama3_parameters).
  io::RopeScaling l;
  l.type = "llama3";
  l.factor = 8;
  l.low_freq_factor = 1;
  l.high_freq_factor = 4;
  l.original_max_position_embeddings = 8192;
  auto f = rope_inv_freq(128, 500000, l);
  auto base = rope_inv_freq(128, 500000, io::RopeScaling());
  EXPECT_FLOAT_EQ(f[0], base[0]);           // short wavelengths kept
  EXPECT_NEAR(f[63], base[63] / 8, 1e-12);  // long wavelengths divided by factor
  for (int i = 0; i < 64; ++i) {
    const double wavelen = 2 * M_PI / base[i];
    if (wavelen > 2048 && wavelen < 8192) {
      const double smooth = (8192 / wavelen - 1) / 3;
      EXPECT_NEAR(f[i], (1 - smooth) * base[i] / 8 + smooth * base[i], 1e-9 + 1e-6 * base[i]);
    }
  }
}

}  // namespace
}  // namespace r1::models
