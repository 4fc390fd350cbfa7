// The packed layouts of Q4_K, Q6_K, Q4_0, Q5_0 and Q8_0 (core/quant_pack.h): bytes where the header
// says they are (checked against the plain rows through decode_chunk, not through the packer's own
// helpers), an exact round trip, row dequantization, and every ISA's GEMM on packed W against the
// scalar reference on the same rows in their file layout.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/quant.h"
#include "core/quant_pack.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace r1::kernels {
namespace {

using testing::random_floats;

// `rows` rows of n weights quantized to t, with some larger values. Q8_0 gets a few q of -128,
// which llama.cpp's quantizer never writes but a file may hold (the format allows them).
std::vector<uint8_t> quantized(DType t, int64_t rows, int64_t n, uint32_t seed) {
  std::vector<float> f = random_floats(rows * n, seed, -1.0f, 1.0f);
  for (size_t i = 0; i < f.size(); i += 29) f[i] *= 5;
  std::vector<uint8_t> q(dtype_bytes(t, rows * n));
  for (int64_t r = 0; r < rows; ++r)
    quantize_row(t, f.data() + r * n, q.data() + dtype_bytes(t, r * n), n);
  if (t == DType::Q8_0)
    for (size_t b = 0; b < q.size() / kQ8BlockBytes; b += 3)
      q[b * kQ8BlockBytes + 2 + b % 32] = 0x80;
  return q;
}

std::vector<uint8_t> packed(DType t, const std::vector<uint8_t>& q, int64_t rows, int64_t n) {
  std::vector<uint8_t> p(dtype_bytes(packed_type(t), rows * n));
  for (int64_t g = 0; g < rows / kPackRows; ++g)
    pack_rows8(t, q.data() + dtype_bytes(t, g * kPackRows * n),
               p.data() + dtype_bytes(packed_type(t), g * kPackRows * n), n);
  return p;
}

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

TEST(PackedLayout, SizesAndTypes) {
  EXPECT_EQ(dtype_bytes(DType::Q4_K_R8, 8 * 256), 8 * 144u);  // 18 cache lines, as in the file
  EXPECT_EQ(dtype_bytes(DType::Q6_K_R8, 8 * 256), 1696u);     // 32-byte aligned super-blocks
  EXPECT_EQ(packed_type(DType::Q4_K), DType::Q4_K_R8);
  EXPECT_EQ(unpacked_type(DType::Q6_K_R8), DType::Q6_K);
  EXPECT_EQ(packed_type(DType::Q8_0), DType::Q8_0_R8);
  EXPECT_EQ(unpacked_type(DType::Q8_0_R8), DType::Q8_0);
  EXPECT_EQ(dtype_bytes(DType::Q8_0_R8, 8 * 64), 544u);  // 32-byte aligned units
  EXPECT_EQ(packed_type(DType::Q5_0), DType::Q5_0_R8);
  EXPECT_EQ(dtype_bytes(DType::Q4_0_R8, 8 * 64), 288u);
  EXPECT_EQ(dtype_bytes(DType::Q5_0_R8, 8 * 64), 352u);
  EXPECT_TRUE(can_pack(DType::Q4_K, 16, 512));
  EXPECT_FALSE(can_pack(DType::Q4_K, 12, 512));  // not whole groups of 8 rows
  EXPECT_FALSE(can_pack(DType::Q4_K, 16, 288));  // not whole super-blocks
  EXPECT_TRUE(can_pack(DType::Q5_0, 16, 896));   // units of 2 blocks
  EXPECT_FALSE(can_pack(DType::Q4_0, 16, 96));
  EXPECT_TRUE(can_pack(DType::Q8_0, 16, 512));
  EXPECT_FALSE(can_pack(DType::Q8_0, 16, 96));  // not whole units of 2 blocks
  EXPECT_FALSE(can_pack(DType::F16, 16, 512));
}

// Every weight of every row where the header puts it: for Q4_K the nibble, the 6-bit scale
// and minimum (their values, as decode_chunk gives f = d * sc and mn = dmin * m); for Q6_K the
// low nibble and top 2 bits of q + 32 and each 16-weight sub-block's scale.
TEST(PackedLayout, BytesWhereTheHeaderSays) {
  const int64_t n = 512, rows = 16;
  for (DType t : {DType::Q4_K, DType::Q6_K}) {
    const std::vector<uint8_t> q = quantized(t, rows, n, 5);
    const std::vector<uint8_t> p = packed(t, q, rows, n);
    const size_t sb = 8 * dtype_block_bytes(packed_type(t));
    for (int64_t row = 0; row < rows; ++row) {
      const uint8_t* plain = q.data() + dtype_bytes(t, row * n);
      const int r = static_cast<int>(row % 8);
      for (int64_t c = 0; c < n / 32; ++c) {
        QuantChunk ch;
        decode_chunk(t, plain, c, &ch);
        const uint8_t* g = p.data() + (row / 8) * (n / 256) * sb + (c / 8) * sb;
        const int cc = static_cast<int>(c % 8);
        const float d = f16_at(g + 2 * r);
        if (t == DType::Q4_K) {
          const int low = g[32 + 8 * cc + r], top = g[96 + 8 * (cc % 4) + r] >> (4 * (cc / 4));
          const int sc = (low & 15) | (top & 3) << 4, mn = low >> 4 | ((top >> 2) & 3) << 4;
          ASSERT_EQ(d * static_cast<float>(sc), ch.f[0]) << row << " " << c;
          ASSERT_EQ(f16_at(g + 16 + 2 * r) * static_cast<float>(mn), ch.mn) << row << " " << c;
        } else {
          ASSERT_EQ(d * static_cast<int8_t>(g[16 + 16 * cc + r]), ch.f[0]) << row << " " << c;
          ASSERT_EQ(d * static_cast<int8_t>(g[24 + 16 * cc + r]), ch.f[1]) << row << " " << c;
        }
        // Chunk cc's nibbles: Q4_K_R8 at 128 + 128cc, Q6_K_R8 at 160 + 192cc (its top bits after).
        const uint8_t* qc = g + (t == DType::Q4_K ? 128 + 128 * cc : 160 + 192 * cc);
        for (int l = 0; l < 32; ++l) {
          const int u = ch.q[l] + (t == DType::Q6_K ? 32 : 0);
          const int k = (l % 16) / 4, i = l % 4;
          const uint8_t byte = qc[32 * k + 4 * r + i];
          ASSERT_EQ(l < 16 ? byte & 15 : byte >> 4, u & 15) << row << " " << c << " " << l;
          if (t == DType::Q6_K) {
            const uint8_t h = qc[128 + 32 * (l / 16) + 4 * r + i];
            ASSERT_EQ((h >> (2 * k)) & 3, u >> 4) << row << " " << c << " " << l;
          }
        }
      }
    }
  }
}

// Q4_0 / Q5_0 / Q8_0 (2 blocks per unit): d, the nibbles and Q5_0's bit 4, Q8_0's bytes where
// the header says.
TEST(PackedLayout, Q4_0Q5_0AndQ8_0BytesWhereTheHeaderSays) {
  const int64_t n = 192, rows = 16;
  for (DType t : {DType::Q4_0, DType::Q5_0, DType::Q8_0}) {
    const std::vector<uint8_t> q = quantized(t, rows, n, 6);
    const std::vector<uint8_t> p = packed(t, q, rows, n);
    const int64_t unit = t == DType::Q4_0   ? 288
                         : t == DType::Q5_0 ? 352
                                            : 544,
                  off = t == DType::Q4_0 ? 8 : 16;
    for (int64_t row = 0; row < rows; ++row) {
      const uint8_t* plain = q.data() + dtype_bytes(t, row * n);
      const int r = static_cast<int>(row % 8);
      for (int64_t c = 0; c < n / 32; ++c) {
        QuantChunk ch;
        decode_chunk(t, plain, c, &ch);
        const uint8_t* u = p.data() + (row / 8) * (n / 64) * unit + (c / 2) * unit;
        const int b = static_cast<int>(c % 2);
        ASSERT_EQ(f16_at(u + 16 * b + 2 * r), ch.f[0]) << row << " " << c;
        for (int l = 0; l < 32; ++l) {
          if (t == DType::Q8_0) {
            ASSERT_EQ(static_cast<int8_t>(u[32 + 256 * b + 32 * (l / 4) + 4 * r + l % 4]), ch.q[l])
                << row << " " << c << " " << l;
            continue;
          }
          const int v = ch.q[l] + off, k = (l % 16) / 4, i = l % 4;
          const uint8_t byte = u[32 + 128 * b + 32 * k + 4 * r + i];
          ASSERT_EQ(l < 16 ? byte & 15 : byte >> 4, v & 15) << row << " " << c << " " << l;
          if (t == DType::Q5_0) {
            const uint8_t h = u[288 + 32 * b + 4 * r + i];
            ASSERT_EQ((h >> (k + (l < 16 ? 0 : 4))) & 1, v >> 4) << row << " " << c << " " << l;
          }
        }
      }
    }
  }
}

TEST(PackedLayout, RoundTripAndRowDequantization) {
  const int64_t n = 768, rows = 24;
  for (DType t : {DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::Q5_0, DType::Q8_0}) {
    const std::vector<uint8_t> q = quantized(t, rows, n, 9);
    const std::vector<uint8_t> p = packed(t, q, rows, n);
    std::vector<uint8_t> back(q.size());
    for (int64_t g = 0; g < rows / 8; ++g)
      unpack_rows8(packed_type(t), p.data() + dtype_bytes(packed_type(t), g * 8 * n),
                   back.data() + dtype_bytes(t, g * 8 * n), n);
    EXPECT_EQ(back, q) << dtype_name(t);
    std::vector<float> a(n), b(n);
    for (int64_t row = 0; row < rows; ++row) {
      dequantize_row(t, q.data() + dtype_bytes(t, row * n), a.data(), n);
      dequantize_packed_row(packed_type(t), p.data(), row, b.data(), n);
      ASSERT_EQ(a, b) << dtype_name(t) << " row " << row;
    }
  }
}

// Every ISA on packed W (columns [8, N), a row stride past K) against the scalar reference on the
// same weights unpacked: only the order of float sums differs. The 9 groups of the range make
// two tiles of 4 streams a quarter of the range apart and one group left over. (Where AVX-512
// multiplies Q8_0 in f32 panels, X is not quantized: there against the exact product.)
TEST(GemmR8, EveryIsaMatchesTheUnpackedReference) {
  uint32_t seed = 71;
  for (DType t : {DType::Q4_K, DType::Q6_K, DType::Q4_0, DType::Q5_0, DType::Q8_0})
    for (int64_t K : {64, 192, 256, 768, 1280})
      for (int64_t M : {1, 2, 3, 4, 5, 9, 17}) {
        if (K % (t == DType::Q4_K || t == DType::Q6_K ? 256 : 64) != 0) continue;
        const int64_t N = 80, ldw = K + 256, ldy = N + 3, ldx = K + 5;
        const std::vector<uint8_t> q = quantized(t, N, ldw, seed++);
        const std::vector<uint8_t> p = packed(t, q, N, ldw);
        std::vector<float> x = random_floats(M * ldx, seed++, -2.0f, 2.0f);
        GemmParams gp = testing::gemm_params(M, K, 8, N, x.data(), ldx, q.data(), ldw, t, ldy);
        std::vector<float> want(M * ldy, -7.0f);
        gp.y = want.data();
        kernels_for(Isa::Scalar).gemm(gp);
        for (const testing::Int8Target& target : testing::int8_targets(true)) {
          const Isa isa = target.isa;
          testing::Avx2Int8Scope int8_scope(target);
          SCOPED_TRACE(target.name);
          std::vector<float> got(M * ldy, -7.0f);
          gp.w = p.data();
          gp.wtype = packed_type(t);
          gp.y = got.data();
          kernels_for(isa).gemm(gp);
          const bool f32_panels = isa == Isa::Avx512 && t == DType::Q8_0 && avx512::q8_f32_path(gp);
          std::vector<float> row(ldw);
          for (int64_t m = 0; m < M; ++m)
            for (int64_t c = 0; c < ldy; ++c) {
              const float a = got[m * ldy + c], b = want[m * ldy + c];
              if (c < 8 || c >= N) {
                ASSERT_EQ(a, -7.0f) << "wrote outside its columns";
                continue;
              }
              if (f32_panels) {
                dequantize_row(t, q.data() + dtype_bytes(t, c * ldw), row.data(), ldw);
                double exact = 0, mag = 0;
                for (int64_t k = 0; k < K; ++k) {
                  exact += static_cast<double>(x[m * ldx + k]) * row[k];
                  mag += std::fabs(x[m * ldx + k] * row[k]);
                }
                ASSERT_LE(std::fabs(a - exact), 2e-6 * mag + 1e-30) << m << "," << c;
                continue;
              }
              ASSERT_NEAR(a, b, 1e-5 * (std::fabs(b) + 1.0f) * std::sqrt(static_cast<float>(K)))
                  << isa_name(isa) << " " << dtype_name(t) << " M=" << M << " K=" << K << " at "
                  << m << "," << c;
            }
        }
      }
}

// Column ranges must be whole groups of 8 rows: anything else is an internal error, not a
// silently wrong product.
TEST(GemmR8, RefusesPartialGroups) {
  const int64_t K = 256;
  const std::vector<uint8_t> p = packed(DType::Q4_K, quantized(DType::Q4_K, 8, K, 1), 8, K);
  std::vector<float> x(K, 1.0f), y(8);
  GemmParams gp = testing::gemm_params(1, K, 0, 5, x.data(), K, p.data(), K, DType::Q4_K_R8, 8);
  gp.y = y.data();
  for (const testing::Int8Target& target : testing::int8_targets(false)) {
    const Isa isa = target.isa;
    testing::Avx2Int8Scope int8_scope(target);
    SCOPED_TRACE(target.name);
    EXPECT_THROW(kernels_for(isa).gemm(gp), Error) << isa_name(isa);
  }
}

// Block-quantized W with bf16_dot (kernels.h): every ISA computes, up to the order of f32 sums,
// the product of X rounded to bf16 and each weight of dequantize_row rounded to bf16, for Q8_0,
// the plain 4-6-bit types and their packed layouts. Odd shapes: M around the micro-tile, K past
// one 512-wide panel block, a column range not whole panels of 32, row strides past K; and
// nothing written outside [n_begin, n_end).
TEST(GemmBlocksBf16, EveryIsaIsTheProductOfTheRoundedOperands) {
  uint32_t seed = 501;
  auto round_bf16 = [](float v) { return bf16_to_f32(f32_to_bf16(v)); };
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q5_0, DType::Q4_K, DType::Q6_K})
    for (bool pack : {false, true}) {
      const int64_t unit = pack ? packed_unit(t) : dtype_block(t);
      for (int64_t K : {unit, 3 * unit, 5 * unit, 768 + unit})
        for (int64_t M : {1, 7, 9, 33}) {
          const int64_t N = 80, ldw = K + unit, ldy = N + 3, ldx = K + 5, n0 = 8, n1 = 72;
          const std::vector<uint8_t> q = quantized(t, N, ldw, seed++);
          const std::vector<uint8_t> w = pack ? packed(t, q, N, ldw) : q;
          const std::vector<float> x = random_floats(M * ldx, seed++, -2.0f, 2.0f);
          GemmParams gp = testing::gemm_params(M, K, n0, n1, x.data(), ldx, w.data(), ldw,
                                               pack ? packed_type(t) : t, ldy);
          gp.bf16_dot = true;
          std::vector<float> row(ldw);
          for (const testing::Int8Target& target : testing::int8_targets(true)) {
            const Isa isa = target.isa;
            testing::Avx2Int8Scope int8_scope(target);
            SCOPED_TRACE(target.name);
            std::vector<float> y(M * ldy, -7.0f);
            gp.y = y.data();
            kernels_for(isa).gemm(gp);
            for (int64_t n = 0; n < ldy; ++n) {
              if (n >= n0 && n < n1)
                dequantize_row(t, q.data() + dtype_bytes(t, n * ldw), row.data(), ldw);
              for (int64_t m = 0; m < M; ++m) {
                const float got = y[m * ldy + n];
                if (n < n0 || n >= n1) {
                  ASSERT_EQ(got, -7.0f) << "wrote outside its columns";
                  continue;
                }
                double exact = 0, mag = 0;
                for (int64_t k = 0; k < K; ++k) {
                  const double v =
                      static_cast<double>(round_bf16(x[m * ldx + k])) * round_bf16(row[k]);
                  exact += v;
                  mag += std::fabs(v);
                }
                ASSERT_LE(std::fabs(got - exact), 4e-6 * mag + 1e-30)
                    << isa_name(isa) << " " << dtype_name(gp.wtype) << " M=" << M << " K=" << K
                    << " at " << m << "," << n;
              }
            }
          }
        }
    }
}

}  // namespace
}  // namespace r1::kernels
