// In-memory GEMM layouts of Q4_K, Q6_K, Q4_0, Q5_0 and Q8_0 (DType Q4_K_R8 / Q6_K_R8 / Q4_0_R8 /
// Q5_0_R8 / Q8_0_R8; never written to files): each group of 8 consecutive rows is stored unit by
// unit (a super-block of 256 weights, or 2 blocks of 32 for Q4_0 / Q5_0 / Q8_0) with the 8 rows
// interleaved, so that one 32-byte vector holds 4 consecutive quantized weights of each row and
// an int8 dot product with 4 activations broadcast to every lane leaves each row's partial sum in
// its own lane: no horizontal sums, and one scale vector (the 8 rows' scales) per sub-block.
// Q4_K keeps its 6-bit sub-block scales packed, as in the file, so that a super-block of a group
// is 18 cache lines and every 64-byte load of its weights is aligned (kernels/cpu/avx2_util.h
// unpacks them per super-block).
//
// Per super-block of a group (r = row in group, c = 32-weight chunk, l = weight in chunk):
//   Q4_K_R8, 1152 bytes (144 per row, as in the file): [0, 16) d (f16) of rows 0-7; [16, 32)
//     dmin; [32, 96) the low 4 bits of chunk c row r's 6-bit scale in bits 0-3 of byte
//     32 + 8c + r, of its minimum in bits 4-7; [96, 128) their top 2 bits: byte 96 + 8(c % 4) + r
//     holds the scale's in bits 4(c / 4) and 4(c / 4) + 1, the minimum's in the next two;
//     [128, 1152) the 4-bit q: the byte at 128 + 128c + 32k + 4r + i holds weight 4k + i of chunk
//     c in its low nibble and weight 16 + 4k + i in its high nibble (k, i in [0, 4)).
//   Q6_K_R8, 1696 bytes (210 + 2 per row, so that every super-block and chunk starts 32-byte
//     aligned and no vector load straddles two cache lines): [0, 16) d of rows 0-7; [16, 144)
//     the int8 scale of 16-weight sub-block s row r at 16 + 8s + r; [144, 160) zero; then chunk c
//     at 160 + 192c: 128 bytes of the low 4 bits of u = q + 32 (0..63) arranged as Q4_K_R8's q
//     (byte 32k + 4r + i), then 64 bytes of the top 2 bits of u: byte 128 + 32j + 4r + i holds,
//     in bits 2s and 2s + 1, those of weight 16j + 4s + i.
// Per 2 blocks b = 0, 1 (chunks) of a group:
//   Q4_0_R8, 288 bytes: [0, 32) d of block b row r at 16b + 2r; [32, 288) block b's unsigned
//     4-bit q at 32 + 128b, arranged as Q4_K_R8's (value (q - 8) * d).
//   Q5_0_R8, 352 bytes: as Q4_0_R8, then [288, 352) bit 4 of q (value (q - 16) * d): byte
//     288 + 32b + 4r + i holds in bit k that of weight 4k + i and in bit 4 + k that of 16 + 4k + i.
//   Q8_0_R8, 544 bytes: [0, 32) d as Q4_0_R8's; [32, 544) the int8 q as in the file: byte
//     32 + 256b + 32k + 4r + i holds that of weight 4k + i of block b (k in [0, 8)). (One block
//     per unit would be 272 bytes, and every other unit's vectors would straddle cache lines.)
// All are read front to back, chunk after chunk: one sequential stream per group. A packed row
// equals, weight for weight, the row it was packed from.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace r1 {

constexpr int64_t kPackRows = 8;

// The packed layout of a type (Q4_K -> Q4_K_R8, ...; others: the type itself), and back.
constexpr DType packed_type(DType t) {
  return t == DType::Q4_K   ? DType::Q4_K_R8
         : t == DType::Q6_K ? DType::Q6_K_R8
         : t == DType::Q4_0 ? DType::Q4_0_R8
         : t == DType::Q5_0 ? DType::Q5_0_R8
         : t == DType::Q8_0 ? DType::Q8_0_R8
                            : t;
}
constexpr DType unpacked_type(DType t) {
  return t == DType::Q4_K_R8   ? DType::Q4_K
         : t == DType::Q6_K_R8 ? DType::Q6_K
         : t == DType::Q4_0_R8 ? DType::Q4_0
         : t == DType::Q5_0_R8 ? DType::Q5_0
         : t == DType::Q8_0_R8 ? DType::Q8_0
                               : t;
}
constexpr bool is_packed_type(DType t) {
  return unpacked_type(t) != t;
}
// Weights per row in a unit of a type or its packed layout (2 blocks of Q4_0 / Q5_0 / Q8_0, a
// super-block of Q4_K / Q6_K), and the bytes of a packed group's unit (its 8 rows).
constexpr int64_t packed_unit(DType t) {
  return dtype_block(t) == 32 ? 64 : 256;
}
// The alignment a packed layout's kernels want of its first byte: 64 for Q4_K_R8, whose AVX-512
// decode kernel reads a chunk's 128 bytes as two 64-byte vectors (from memory 10-25% slower when
// each straddles two cache lines: kernels_bench --dtype q4_k_r8 --shape 1 --offset 32), 32 for
// the others (32-byte vectors).
constexpr size_t packed_alignment(DType packed) {
  return packed == DType::Q4_K_R8 ? 64 : 32;
}
constexpr int64_t packed_unit_bytes(DType packed) {
  return packed_unit(packed) / dtype_block(packed) * kPackRows *
         static_cast<int64_t>(dtype_block_bytes(packed));
}
// Whether a [rows, cols] matrix of type t has a packed layout (whole groups of 8 rows, whole
// units).
bool can_pack(DType t, int64_t rows, int64_t cols);

// 8 consecutive rows of n weights in type t (Q4_K, Q6_K, Q4_0, Q5_0, Q8_0) at src -> one packed
// group, and back (unpack_rows8 restores the original bytes exactly).
void pack_rows8(DType t, const void* src, void* dst, int64_t n);
void unpack_rows8(DType packed, const void* src, void* dst, int64_t n);
// Row r (0..7) of a packed group at src -> one row of n weights in the file type at dst.
void unpack_row(DType packed, const void* src, int r, void* dst, int64_t n);
// Row `row` of a packed [rows, n] matrix whose data starts at `data`, dequantized into y.
void dequantize_packed_row(DType packed, const void* data, int64_t row, float* y, int64_t n);

}  // namespace r1
