// The 4-, 5- and 6-bit block formats of llama.cpp (Q4_0, Q5_0, Q4_K, Q6_K; byte layouts in
// docs/FACTS.md section 8), in reference form: quantizers, dequantizers, and the view of a row
// as 32-weight chunks that the int8 GEMM kernels compute with. Q8_0 is in core/dtype.h.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace r1 {

// Every block type's row seen as chunks of 32 consecutive weights, each of the form
//   weight[j] = f[j / 16] * q[j] - mn        (j in [0, 32))
// with small integer q: signed for Q8_0, Q4_0 (q - 8), Q5_0 (q - 16) and Q6_K (q - 32, a scale
// per 16 weights), the unsigned 4-bit q for Q4_K with its sub-block minimum mn. f[0] == f[1]
// except for Q6_K; mn is 0 except for Q4_K. The GEMM kernels compute each chunk's dot product
// with int8 activations as f[0] * (sum of the first 16 products) + f[1] * (the last 16) - mn *
// (sum of the activations), all times the activations' scale.
struct QuantChunk {
  int8_t q[32];
  float f[2];
  float mn;
};
// Chunk c (counting from the row's start) of a row of type t.
void decode_chunk(DType t, const void* row, int64_t c, QuantChunk* out);

// n (a multiple of dtype_block(t)) values of row x into type t's blocks at dst, and back.
// Quantizers (r1's own, following the ideas of llama.cpp's reference ones, without importance
// weights): Q4_0 and Q5_0 exactly as llama.cpp's (d = the largest-magnitude value / -8 or -16);
// Q4_K fits each 32-weight sub-block's scale and minimum by weighted least squares over a grid
// of candidate scales (weights |x| + rms), then stores them as 6-bit multiples of two f16
// super-block scales; Q6_K fits each 16-weight sub-block's scale likewise (weights x^2) and
// stores it as an int8 multiple of one f16 scale.
void quantize_row(DType t, const float* x, void* dst, int64_t n);
void dequantize_row(DType t, const void* src, float* y, int64_t n);

// One block of Q4_0 / Q5_0 (32 weights) or Q4_K / Q6_K (256) with its fields in plain form, for
// code that rearranges blocks (core/quant_pack.h): d (and Q4_K's dmin) as stored f16 bits; Q4_K's
// 8 6-bit scales and 8 6-bit minimums, Q6_K's 16 int8 scales (as bytes); the unsigned q of each
// weight (Q4_0 4-bit, value (q - 8) d; Q5_0 5-bit, (q - 16) d; Q4_K 4-bit; Q6_K q + 32, 6-bit).
// write_block(read_block(bytes)) gives back the same bytes; the quantizers write through it.
struct PlainBlock {
  uint16_t d = 0, dmin = 0;
  uint8_t sc[16] = {}, mn[8] = {};
  uint8_t q[256] = {};
};
void read_block(DType t, const void* block, PlainBlock* out);
void write_block(DType t, const PlainBlock& in, void* block);

}  // namespace r1
