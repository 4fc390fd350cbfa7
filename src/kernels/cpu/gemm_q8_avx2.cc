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

// Y[m, r * ycol] for R W rows (wstep bytes apart) and MB X rows.
template <int R, int MB>
void q8_tile(const uint8_t* w, int64_t wstep, const int8_t* xq, const float* xd, int64_t nb,
             float* y, int64_t ldy, int64_t ycol) {
  __m256 acc[MB][R];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[R], aw[R];
    float dw[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * wstep + b * static_cast<int64_t>(kQ8BlockBytes);
      uint16_t h;
      std::memcpy(&h, blk, 2);
      dw[r] = _cvtsh_ss(h);
      wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      aw[r] = _mm256_sign_epi8(wq[r], wq[r]);  // -128 -> 0x80: 128 as unsigned
      // W comes from memory once: fetch ahead into L2, as the bf16 dot tiles do.
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 4096, _MM_HINT_T1);
    }
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m256i xv =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + (m * nb + b) * kQ8Block));
      const float dx = xd[m * nb + b];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m256i isum = dot_u8s8(aw[r], _mm256_sign_epi8(xv, wq[r]));
        acc[m][r] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dw[r] * dx), acc[m][r]);
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[m * ldy + r * ycol] = hsum(acc[m][r]);
}

}  // namespace

#define R1_Q8_MB 2
#define R1_Q8_TILE q8_tile
#include "kernels/cpu/gemm_q8.inc"
#undef R1_Q8_MB
#undef R1_Q8_TILE

}  // namespace r1::kernels::avx2
