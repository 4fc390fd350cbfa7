// Q8_0 GEMM with AVX2 (vpmaddubsw + vpmaddwd; no int8 dot instruction), one block per 256-bit
// vector. Per 32-weight block and (W row, X row) pair: |qw| and sign(qx, qw) turn the signed
// product into the unsigned x signed one the instructions take (exact for any qw, -128 included,
// since the activations are in [-127, 127]), one dot gives the block's int32 partial sums, and
// they are scaled by dw * dx into f32 accumulators.
#include <immintrin.h>

#include <cstring>

#include "core/error.h"
#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx2 {

namespace {

// 8 int32 lanes, each the sum of four adjacent products of the unsigned bytes a and signed bytes
// b (what vpdpbusd does in one instruction).
inline __m256i dot_u8s8(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

#include "kernels/cpu/q8_tile256.inc"

}  // namespace

#define R1_Q8_MB 2
#define R1_Q8_TILE q8_tile
#include "kernels/cpu/gemm_q8.inc"
#undef R1_Q8_MB
#undef R1_Q8_TILE

}  // namespace r1::kernels::avx2
