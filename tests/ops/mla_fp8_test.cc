// The absorbed MLA attention over an fp8 kv_b_proj read in place (ops::mla_key_transposed for the
// key half, row slices for the value half) against the same attention with the weight widened
// to f32 as it goes (the path for every other layout), on DeepSeek-V3's block layout and on
// heads smaller than a block; and the layouts whose halves cross blocks, which get no copy.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/cpu_features.h"
#include "grad_check.h"
#include "kernels/kernels.h"
#include "ops/mla.h"
#include "ops/ops.h"

namespace r1 {
namespace {

using testing::random_tensor;

// fp8 e4m3 bytes without NaN codes, and block scales in [0.01, 0.1).
ops::Weight random_fp8(int64_t N, int64_t K, int64_t block, uint32_t seed) {
  std::mt19937 rng(seed);
  ops::Weight w;
  w.w = Tensor::empty(DType::F8_E4M3, {N, K});
  auto* b = static_cast<uint8_t*>(w.w.data);
  for (int64_t i = 0; i < N * K; ++i) {
    uint8_t v = static_cast<uint8_t>(rng());
    if ((v & 0x7f) == 0x7f) v = 0x3e;
    b[i] = v;
  }
  w.block_n = w.block_k = block;
  w.scale = Tensor::empty(DType::F32, {(N + block - 1) / block, (K + block - 1) / block});
  std::uniform_real_distribution<float> u(0.01f, 0.1f);
  for (int64_t i = 0; i < w.scale.numel(); ++i) w.scale.ptr<float>()[i] = u(rng);
  return w;
}

void check_layout(const ops::MlaShape& s, int64_t block, bool representable) {
  const int64_t kvw = s.nope + s.v, width = s.lora + s.rope, n_pos = 7;
  const ops::Weight kv_b = random_fp8(s.n_heads * kvw, s.lora, block, 1);
  const ops::Weight key_t = ops::mla_key_transposed(kv_b, s);
  ASSERT_EQ(key_t.w.defined(), representable);
  if (representable) {
    ASSERT_EQ(key_t.rows(), s.n_heads * s.lora);
    ASSERT_EQ(key_t.cols(), s.nope);
  }
  Tensor latent = random_tensor({n_pos, width}, 2);
  const float* blocks[1] = {latent.ptr<float>()};
  for (int64_t T : {1, 3}) {
    Tensor q = random_tensor({T, s.n_heads * (s.nope + s.rope)}, 3 + static_cast<uint32_t>(T));
    std::vector<ops::LatentSpan> spans(T, ops::LatentSpan{{blocks, 0, width, n_pos}});
    std::vector<int32_t> pos;
    for (int64_t t = 0; t < T; ++t) pos.push_back(static_cast<int32_t>(n_pos - 1 - 2 * t));
    // The widening path: a copy of kv_b as f32 (no fp8 slices, no transposed copy).
    ops::Weight wide;
    wide.w = Tensor::empty(DType::F32, {kv_b.rows(), kv_b.cols()});
    ops::widen_rows(kv_b, 0, kv_b.rows(), wide.w.ptr<float>());
    const Tensor want = ops::mla_absorbed(q, wide, s, spans, pos);
    const Tensor got = ops::mla_absorbed(q, kv_b, s, spans, pos, &key_t);  // undefined: ignored
    const Tensor no_copy = ops::mla_absorbed(q, kv_b, s, spans, pos);      // value slices only
    double scale = 0;
    for (int64_t i = 0; i < want.numel(); ++i)
      scale = std::max<double>(scale, std::fabs(want.ptr<float>()[i]));
    ASSERT_GT(scale, 0);
    for (int64_t i = 0; i < want.numel(); ++i) {
      ASSERT_NEAR(got.ptr<float>()[i], want.ptr<float>()[i], 2e-5 * scale)
          << "T=" << T << " at " << i;
      ASSERT_NEAR(no_copy.ptr<float>()[i], want.ptr<float>()[i], 2e-5 * scale)
          << "T=" << T << " at " << i;
    }
    // With bf16 dot products, as linear's: fp8 decode rows round the activations times the
    // block scales to bf16 where the CPU has the kernel (8 significant bits), else stay exact.
    // The query is scaled down first: these weights (up to 45) make scores of hundreds, whose
    // softmax a rounding of the query moves from one position to another.
    for (int64_t i = 0; i < q.numel(); ++i) q.ptr<float>()[i] *= 1.0f / 64;
    const Tensor mild = ops::mla_absorbed(q, kv_b, s, spans, pos, &key_t);
    ops::set_fast_bf16(true);
    const Tensor fast = ops::mla_absorbed(q, kv_b, s, spans, pos, &key_t);
    ops::set_fast_bf16(false);
    const bool rounds =
        kernels::kernels().isa == kernels::Isa::Avx512 && cpu_features().has_avx512_fp8_bf16();
    double mild_scale = 0;
    for (int64_t i = 0; i < mild.numel(); ++i)
      mild_scale = std::max<double>(mild_scale, std::fabs(mild.ptr<float>()[i]));
    int64_t differ = 0;
    for (int64_t i = 0; i < mild.numel(); ++i) {
      ASSERT_NEAR(fast.ptr<float>()[i], mild.ptr<float>()[i], 1e-2 * mild_scale)
          << "T=" << T << " at " << i;
      differ += fast.ptr<float>()[i] != mild.ptr<float>()[i];
    }
    if (representable) {
      EXPECT_EQ(differ > 0, rounds) << "T=" << T;
    }
  }
}

// A prompt through the absorbed path, whose tokens go in tiles (all heads of consecutive tokens
// as one block of query rows, GEMM-shaped kernels from 24 rows on), against the naive path
// (keys and values decompressed per head), on the test fixture's shape (4 heads, rope 64 wider
// than the latent 32) and on 16 heads; the prompt's 40 tokens cached in blocks of 16.
TEST(MlaPrompt, TiledAbsorbedEqualsNaive) {
  for (const ops::MlaShape s :
       {ops::MlaShape{4, 16, 64, 24, 32, 0.3f}, ops::MlaShape{16, 8, 16, 16, 64, 0.2f}}) {
    const int64_t T = 40, width = s.lora + s.rope;
    ops::Weight kv_b;
    kv_b.w = random_tensor({s.n_heads * (s.nope + s.v), s.lora}, 60);
    Tensor latent = random_tensor({T, width}, 61);
    std::vector<const float*> blocks;
    for (int64_t r = 0; r < T; r += 16) blocks.push_back(latent.ptr<float>() + r * width);
    Tensor q = random_tensor({T, s.n_heads * (s.nope + s.rope)}, 62);
    std::vector<ops::LatentSpan> spans(T, ops::LatentSpan{{blocks.data(), 0, width, 16}});
    std::vector<int32_t> pos;
    for (int32_t t = 0; t < T; ++t) pos.push_back(t);
    const Tensor want = ops::mla_naive(q, kv_b, s, spans, pos);
    const Tensor got = ops::mla_absorbed(q, kv_b, s, spans, pos);
    double scale = 0;
    for (int64_t i = 0; i < want.numel(); ++i)
      scale = std::max<double>(scale, std::fabs(want.ptr<float>()[i]));
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_NEAR(got.ptr<float>()[i], want.ptr<float>()[i], 2e-5 * scale)
          << s.n_heads << " heads, token " << i / (s.n_heads * s.v) << " element "
          << i % (s.n_heads * s.v);
  }
}

TEST(MlaFp8, DeepseekV3BlockLayout) {
  // DeepSeek-V3's head sizes (nope = v = 128) and 128 x 128 blocks, fewer heads and a smaller
  // latent.
  check_layout({3, 128, 64, 128, 256, 0.1f}, 128, true);
}

TEST(MlaFp8, HeadsSmallerThanABlock) {
  // Each head's key and value halves inside one 128-row block (the benchmark's scaled model).
  check_layout({4, 64, 32, 64, 256, 0.15f}, 128, true);
  check_layout({2, 48, 16, 80, 128, 0.15f}, 128, true);
}

TEST(MlaFp8, HalvesAcrossBlocksGetNoCopy) {
  // Head 1's key rows 96..143 cross the block boundary at 128 (its value rows do not).
  check_layout({2, 48, 16, 48, 128, 0.15f}, 128, false);
}

}  // namespace
}  // namespace r1
