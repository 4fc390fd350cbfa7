// The paged KV cache: block tables, copy-on-write after a fork, prefix publishing and matching
// (whole blocks, tokens checked), LRU eviction of cached blocks under a budget, and the counts the
// engine schedules by.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "core/error.h"
#include "models/kv_cache.h"
#include "ops/ops.h"

namespace r1::models {
namespace {

// Writes value v(pos) into every float of seq's rows [from, to) of every layer.
void fill(KvCache& c, int seq, int64_t from, int64_t to, float base) {
  c.reserve(seq, to);
  for (int64_t p = from; p < to; ++p)
    for (int l = 0; l < 2; ++l) {
      const float k[3] = {base + p + 100 * l, 1, 2}, v[2] = {3, -(base + p + 100 * l)};
      c.write_k(l, seq, p, k, 0, 3);
      c.write_v(l, seq, p, v, 0, 2);
    }
  c.set_length(seq, to);
}

float k_at(const KvCache& c, int layer, int seq, int64_t pos) {
  float tmp[3];
  return c.k_rows(layer, seq).get(pos, 0, 3, tmp)[0];
}
float v_at(const KvCache& c, int layer, int seq, int64_t pos) {
  float tmp[2];
  return c.v_rows(layer, seq).get(pos, 0, 2, tmp)[1];
}

TEST(KvCache, RowsAcrossBlocks) {
  KvCache c(2, 3, 2, 100, 4);
  const int s = c.add_sequence();
  fill(c, s, 0, 10, 0);
  EXPECT_EQ(c.blocks_in_use(), 3);  // 10 positions in blocks of 4
  for (int64_t p = 0; p < 10; ++p) {
    EXPECT_EQ(k_at(c, 0, s, p), p);
    EXPECT_EQ(k_at(c, 1, s, p), p + 100);
    EXPECT_EQ(v_at(c, 1, s, p), -(p + 100));
  }
  EXPECT_THROW(c.reserve(s, 101), Error);  // beyond the context
  c.free_sequence(s);
  EXPECT_EQ(c.blocks_in_use(), 0);
}

// bf16 rows: half the memory, values rounded to nearest even, the same block logic.
TEST(KvCache, Bf16Rows) {
  KvCache c(2, 3, 2, 100, 4);
  const int64_t f32_bytes = c.bytes_per_token();
  c.set_dtype(DType::BF16);
  EXPECT_EQ(c.bytes_per_token() * 2, f32_bytes);
  const int s = c.add_sequence();
  fill(c, s, 0, 10, 0.3f);
  for (int64_t p = 0; p < 10; ++p) {
    EXPECT_EQ(k_at(c, 1, s, p), bf16_to_f32(f32_to_bf16(0.3f + p + 100)));
    EXPECT_EQ(v_at(c, 0, s, p), bf16_to_f32(f32_to_bf16(-(0.3f + p))));
  }
  const int f = c.fork_sequence(s);
  fill(c, f, 10, 11, 7);
  EXPECT_EQ(k_at(c, 0, f, 9), bf16_to_f32(f32_to_bf16(9.3f)));
  EXPECT_EQ(k_at(c, 0, f, 10), 17);
  EXPECT_THROW(c.set_dtype(DType::F32), Error) << "blocks exist";
}

// Rows cut into kv-head segments: writes in pieces that cross segments land where RowBlocks says,
// each segment's rows of a block are contiguous, and attention over the segmented cache equals
// attention over the same rows stored whole (bit for bit: the kernels read the same values in
// the same order), in f32 and bf16.
TEST(KvCache, SegmentsKeepEachHeadsRowsTogether) {
  for (DType dt : {DType::F32, DType::BF16}) {
    KvCache whole(2, 8, 8, 100, 4), cut(2, 8, 8, 100, 4);
    cut.set_segment(4);
    for (KvCache* c : {&whole, &cut}) c->set_dtype(dt);
    const int a = whole.add_sequence(), b = cut.add_sequence();
    const int64_t n = 11;
    whole.reserve(a, n);
    cut.reserve(b, n);
    auto value = [](int l, bool v, int64_t p, int64_t c) {
      return static_cast<float>(std::sin(1.0 + 1000 * l + 500 * v + 10 * p + c));
    };
    for (int l = 0; l < 2; ++l)
      for (int64_t p = 0; p < n; ++p)
        for (bool v : {false, true}) {
          float row[8];
          for (int64_t c = 0; c < 8; ++c) row[c] = value(l, v, p, c);
          (v ? whole.write_v(l, a, p, row, 0, 8) : whole.write_k(l, a, p, row, 0, 8));
          for (auto [c0, len] : {std::pair<int64_t, int64_t>{0, 2}, {2, 5}, {7, 1}})
            (v ? cut.write_v(l, b, p, row + c0, c0, len) : cut.write_k(l, b, p, row + c0, c0, len));
        }
    whole.set_length(a, n);
    cut.set_length(b, n);
    for (int l = 0; l < 2; ++l) {
      const ops::RowBlocks k = cut.k_rows(l, b), v = cut.v_rows(l, b);
      for (int64_t p = 0; p < n; ++p)
        for (int64_t c = 0; c < 8; ++c) {
          float tmp[1];
          const float want = dt == DType::F32 ? value(l, false, p, c)
                                              : bf16_to_f32(f32_to_bf16(value(l, false, p, c)));
          ASSERT_EQ(k.get(p, c, 1, tmp)[0], want) << l << " " << p << " " << c;
          ASSERT_EQ(k.at(p, c), k.offset + (c / 4) * 16 + (p % 4) * 4 + c % 4);
          ASSERT_EQ(v.get(p, c, 1, tmp)[0], whole.v_rows(l, a).get(p, c, 1, tmp)[0]);
        }
      // 4 query heads on 2 kv heads, tokens at positions 6 and 10.
      Tensor q = Tensor::empty(DType::F32, {2, 16});
      for (int64_t i = 0; i < q.numel(); ++i) q.ptr<float>()[i] = std::cos(0.3 * i);
      const std::vector<int32_t> pos = {6, 10};
      const Tensor x = ops::attention(
          q, 4, 2, 4,
          {{whole.k_rows(l, a), whole.v_rows(l, a)}, {whole.k_rows(l, a), whole.v_rows(l, a)}}, pos,
          0.5f);
      const Tensor y = ops::attention(q, 4, 2, 4, {{k, v}, {k, v}}, pos, 0.5f);
      for (int64_t i = 0; i < x.numel(); ++i)
        ASSERT_EQ(x.ptr<float>()[i], y.ptr<float>()[i]) << dtype_name(dt) << " " << i;
    }
  }
  KvCache c(1, 8, 8, 10, 4);
  c.reserve(c.add_sequence(), 1);
  EXPECT_THROW(c.set_segment(4), Error) << "blocks exist";
}

TEST(KvCache, ForkSharesBlocksAndCopiesOnWrite) {
  KvCache c(2, 3, 2, 100, 4);
  const int a = c.add_sequence();
  fill(c, a, 0, 6, 0);  // blocks: [0..3] full, [4..5] partial
  const int b = c.fork_sequence(a);
  EXPECT_EQ(c.blocks_in_use(), 2) << "shared, not copied";
  EXPECT_EQ(c.length(b), 6);
  // b writes position 6: its partial block is copied first; the full one stays shared.
  EXPECT_EQ(c.blocks_needed(b, 7), 1);
  fill(c, b, 6, 7, 1000);
  EXPECT_EQ(c.blocks_in_use(), 3);
  EXPECT_EQ(k_at(c, 0, b, 6), 1006);
  EXPECT_EQ(k_at(c, 0, b, 5), 5) << "the copy holds the shared positions";
  // a writes its own position 6 into its (now unshared) block: b's copy is untouched.
  EXPECT_EQ(c.blocks_needed(a, 7), 0);
  fill(c, a, 6, 7, 0);
  EXPECT_EQ(k_at(c, 0, a, 6), 6);
  EXPECT_EQ(k_at(c, 0, b, 6), 1006);
  EXPECT_EQ(c.k_rows(0, a).blocks[0], c.k_rows(0, b).blocks[0]) << "first block still shared";
  c.free_sequence(a);
  EXPECT_EQ(k_at(c, 1, b, 2), 102);
  c.free_sequence(b);
  EXPECT_EQ(c.blocks_in_use(), 0);
}

TEST(KvCache, PrefixCachingMatchesWholeBlocksOfTheSameTokens) {
  KvCache c(2, 3, 2, 100, 4);
  std::vector<int32_t> prompt(10);
  std::iota(prompt.begin(), prompt.end(), 1);
  const int a = c.add_sequence();
  EXPECT_EQ(c.attach_prefix(a, prompt.data(), 9), 0) << "nothing published yet";
  fill(c, a, 0, 10, 0);
  c.publish(a, prompt.data(), 10);  // two full blocks become findable
  const int b = c.add_sequence();
  EXPECT_EQ(c.attach_prefix(b, prompt.data(), 9), 8);
  EXPECT_EQ(c.length(b), 8);
  EXPECT_EQ(k_at(c, 1, b, 7), 107) << "the cached keys";
  EXPECT_EQ(c.blocks_in_use(), 3) << "b shares a's first two blocks";
  // A prompt that differs in the second block matches only the first.
  std::vector<int32_t> other = prompt;
  other[5] = 99;
  const int d = c.add_sequence();
  EXPECT_EQ(c.attach_prefix(d, other.data(), 9), 4);
  // The same tokens at a different place do not match (the hash chains from position 0).
  std::vector<int32_t> shifted = {7, 1, 2, 3, 4, 5, 6, 7, 8};
  const int e = c.add_sequence();
  EXPECT_EQ(c.attach_prefix(e, shifted.data(), 9), 0);
  for (int s : {a, b, d, e}) c.free_sequence(s);
  // Published blocks outlive their sequences, cached until memory is needed.
  EXPECT_EQ(c.blocks_in_use(), 0);
  EXPECT_EQ(c.blocks_cached(), 2);
  const int f = c.add_sequence();
  EXPECT_EQ(c.attach_prefix(f, prompt.data(), 10), 8);
  EXPECT_EQ(c.blocks_cached(), 0);
  c.free_sequence(f);
}

TEST(KvCache, BudgetEvictsLeastRecentlyUsedCachedBlocks) {
  KvCache c(2, 3, 2, 100, 4);
  c.set_block_budget(3);
  std::vector<int32_t> p1 = {1, 2, 3, 4, 5}, p2 = {9, 8, 7, 6, 5};
  const int a = c.add_sequence();
  fill(c, a, 0, 4, 0);
  c.publish(a, p1.data(), 4);
  c.free_sequence(a);
  const int b = c.add_sequence();
  fill(c, b, 0, 4, 0);
  c.publish(b, p2.data(), 4);
  c.free_sequence(b);
  EXPECT_EQ(c.blocks_cached(), 2);
  EXPECT_EQ(c.blocks_available(), 3);
  // Using p1's block makes p2's the least recently used; two new blocks evict it.
  const int x = c.add_sequence();
  EXPECT_EQ(c.attach_prefix(x, p1.data(), 4), 4);
  c.free_sequence(x);
  const int y = c.add_sequence();
  fill(c, y, 0, 8, 0);
  EXPECT_EQ(c.blocks_in_use(), 2);
  const int z = c.add_sequence();
  EXPECT_EQ(c.attach_prefix(z, p2.data(), 4), 0) << "evicted";
  EXPECT_EQ(c.attach_prefix(c.add_sequence(), p1.data(), 4), 4) << "kept";
  EXPECT_EQ(c.blocks_available(), 0);
  EXPECT_THROW(fill(c, y, 8, 12, 0), Error) << "the budget is spent";
}

}  // namespace
}  // namespace r1::models
