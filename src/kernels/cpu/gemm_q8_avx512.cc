// Q8_0 GEMM with AVX-512 VNNI: vpdpbusd on 512-bit vectors, two 32-weight blocks per vector.
#include "kernels/cpu/avx512_intrin.h"

#include <cstring>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx512 {

namespace {

// Two blocks' worth of lanes: the low 8 lanes hold a, the high 8 b.
inline __m512 pair_ps(float a, float b) {
  return _mm512_insertf32x8(_mm512_zextps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}

// The tile of gemm_q8.inc on pairs of blocks: W's two 32-byte blocks (34 bytes apart with their
// scales) loaded into one zmm, X's 64 bytes in one load, the sign of W moved onto X with a
// masked subtraction (|W| of -128 is 128 as an unsigned byte, and X is in [-127, 127]: exact for
// any W), one vpdpbusd for 64 products, and the pair's scales dw * dx by lane.
template <int R, int MB>
void q8_tile512(const uint8_t* w, int64_t wstep, const int8_t* xq, const float* xd, int64_t nb,
                float* y, int64_t ldy, int64_t ycol) {
  __m512 acc[MB][R];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t b = 0; b < nb; b += 2) {
    const bool two = b + 1 < nb;  // an odd last block pairs with zeros
    __m512i aw[R];
    __mmask64 neg[R];
    __m512 dw[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * wstep + b * static_cast<int64_t>(kQ8BlockBytes);
      uint16_t h0, h1 = 0;
      std::memcpy(&h0, blk, 2);
      const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      __m256i hi = _mm256_setzero_si256();
      if (two) {
        std::memcpy(&h1, blk + kQ8BlockBytes, 2);
        hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kQ8BlockBytes + 2));
      }
      const __m512i wq = _mm512_inserti64x4(_mm512_zextsi256_si512(lo), hi, 1);
      aw[r] = _mm512_abs_epi8(wq);
      neg[r] = _mm512_movepi8_mask(wq);
      dw[r] = pair_ps(_cvtsh_ss(h0), _cvtsh_ss(h1));
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 4096, _MM_HINT_T1);
      _mm_prefetch(reinterpret_cast<const char*>(blk) + 4096 + 64, _MM_HINT_T1);
    }
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const int8_t* xb = xq + (m * nb + b) * kQ8Block;
      const __m512i xv =
          two ? _mm512_loadu_si512(xb)
              : _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb)));
      const __m512 dx = pair_ps(xd[m * nb + b], two ? xd[m * nb + b + 1] : 0.0f);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512i sx = _mm512_mask_sub_epi8(xv, neg[r], zero, xv);
        const __m512i isum = _mm512_dpbusd_epi32(zero, aw[r], sx);
        acc[m][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw[r], dx), acc[m][r]);
      }
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[m * ldy + r * ycol] = _mm512_reduce_add_ps(acc[m][r]);
}

}  // namespace

// Many X rows on a CPU whose f32 FMA outruns its int8 dot products: the packed f32 GEMM on the
// weights widened exactly. On Intel's AVX-512 the tile above spends five vector operations (sign
// move, vpdpbusd, conversion, scale product, FMA) per 64 products of a W row and an X row, all
// on the two ports that also run FMA; kernels_bench on an Intel Xeon (family 6, model 207), one
// core, 1536 x 8960, W from memory: int8 tiles 69 / 67 / 66 / 59 / 65 GFLOP/s at M = 16 / 32 /
// 64 / 128 / 512, the f32 panels 76 / 98 / 115 / 143 / 152 (at M = 8: 69 against 49). AMD's
// (Zen 4 / 5) int8 dot products are the faster there (Q8_0 prefill above bf16's, bench/README.md).
bool q8_f32_path(const GemmParams& p) {
  static const bool intel = !cpu_features().amd;
  return intel && p.M >= 16 && p.x != nullptr && p.K > 0;
}

#define R1_Q8_MB 4
#define R1_Q8_TILE q8_tile512
#define R1_Q8_F32 q8_f32_path
#include "kernels/cpu/gemm_q8.inc"
#undef R1_Q8_MB
#undef R1_Q8_TILE
#undef R1_Q8_F32

}  // namespace r1::kernels::avx512
