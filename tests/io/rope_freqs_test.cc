// Llama 3's rope scaling as GGUF's rope_freqs divisors and back (io/rope_freqs.h).
#include "io/rope_freqs.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace r1::io {
namespace {

RopeScaling llama3(double factor, int64_t orig) {
  RopeScaling s;
  s.type = "llama3";
  s.factor = factor;
  s.low_freq_factor = 1;
  s.high_freq_factor = 4;
  s.original_max_position_embeddings = orig;
  return s;
}

TEST(RopeFreqs, Llama31DivisorsAndBack) {
  // Llama 3.1 / R1-Distill-Llama-8B: head_dim 128, theta 500000, factor 8, original 8192.
  const RopeScaling s = llama3(8, 8192);
  const std::vector<float> f = llama3_freq_factors(128, 500000, s);
  ASSERT_EQ(f.size(), 64u);
  // Wavelength 2 pi theta^(2i/128): kept below 8192 / 4 = 2048, divided by 8 above 8192.
  for (size_t i = 0; i < f.size(); ++i) {
    const double wavelen = 2 * M_PI * std::pow(500000.0, 2.0 * static_cast<double>(i) / 128);
    if (wavelen < 2040) {
      EXPECT_EQ(f[i], 1.0f) << i;
    }
    if (wavelen > 8200) {
      EXPECT_EQ(f[i], 8.0f) << i;
    }
    EXPECT_GE(f[i], 1.0f);
    EXPECT_LE(f[i], 8.0f);
    if (i > 0) {
      EXPECT_GE(f[i], f[i - 1]) << i;  // longer wavelengths are divided more
    }
  }
  const RopeScaling back = llama3_from_freq_factors(f, 128, 500000, "test");
  EXPECT_EQ(back.type, "llama3");
  EXPECT_EQ(back.factor, 8);
  EXPECT_EQ(back.low_freq_factor, 1);
  EXPECT_EQ(back.high_freq_factor, 4);
  EXPECT_EQ(back.original_max_position_embeddings, 8192);
}

TEST(RopeFreqs, RecoveryEdgeCases) {
  // No scaling: all ones.
  EXPECT_EQ(llama3_from_freq_factors(std::vector<float>(12, 1.0f), 24, 10000, "t").type, "");
  // The tests' fixture (head_dim 24, theta 1e4, original 32): blended dimensions present.
  const std::vector<float> f = llama3_freq_factors(24, 10000, llama3(8, 32));
  EXPECT_EQ(llama3_from_freq_factors(f, 24, 10000, "t").original_max_position_embeddings, 32);
  // No blended dimension (head_dim 8: wavelengths 6.3, 63, 628, 6283, each 10x the last): some
  // original between the bounds (251 and 628), giving the same divisors.
  const std::vector<float> step = {1, 1, 4, 4};
  const RopeScaling s = llama3_from_freq_factors(step, 8, 10000, "t");
  EXPECT_GT(s.original_max_position_embeddings, 251);
  EXPECT_LT(s.original_max_position_embeddings, 628);
  EXPECT_EQ(llama3_freq_factors(8, 10000, s), step);
  // Not Llama 3's shape, or the wrong length: one-line errors naming the source.
  std::vector<float> bad = f;
  bad[3] *= 1.01f;
  bad[2] = 1.5f;
  EXPECT_THROW(llama3_from_freq_factors(bad, 24, 10000, "m.gguf"), Error);
  try {
    llama3_from_freq_factors(f, 32, 10000, "m.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.gguf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace r1::io
