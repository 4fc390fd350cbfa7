// Fused fp8 GEMM for small M (decode), AVX-512: W rows are read once as fp8 bytes, widened 16 at
// a time in registers, multiplied with X, and each block's partial sums are scaled by the block's
// weight_scale_inv as the block ends: y[m, n] = sum_b s[n / bn, b] * sum_{k in block b} x[m, k]
// w[n, k]. Four W rows at a time (independent accumulators); each X row re-reads them from L1. ODR
// rule for ISA files: only declarations are included; helpers are in an anonymous namespace.
#include "kernels/cpu/avx512_intrin.h"

#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx512 {

namespace {

constexpr int64_t kFp8Ahead = 1024;  // bytes of each W row fetched ahead (decode streams)

__mmask16 mask_of(int64_t r) {
  return r >= 16 ? 0xffff : static_cast<__mmask16>((1u << r) - 1u);
}

// 16 e4m3 bytes widened to f32 (lanes outside mask are 0). Bits s.eeee.mmm placed as f32 bits
// eeee.mmm << 20 are 2^(e-127) (1 + m/8) (denormals likewise), times 2^120 exactly the e4m3 value.
__m512 fp8_to_f32(const uint8_t* src, __mmask16 mask) {
  const __m512i v = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, src));
  const __m512i mag = _mm512_and_si512(v, _mm512_set1_epi32(0x7f));
  __m512 f = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(mag, 20)),
                           _mm512_set1_ps(1.329227995784916e36f));  // 2^120
  f = _mm512_mask_mov_ps(f, _mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32(0x7f)),
                         _mm512_set1_ps(__builtin_nanf("")));
  const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(v, _mm512_set1_epi32(0x80)), 24);
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(f), sign));
}

template <int R>
void rows_fp8(const GemmParams& p, int64_t n) {
  const uint8_t* w[R];
  const float* s[R];
  for (int r = 0; r < R; ++r) {
    w[r] = static_cast<const uint8_t*>(p.w) + (n + r) * p.ldw;
    s[r] = p.w_scale + ((n + r) / p.block_n) * p.ld_scale;
  }
  for (int64_t m = 0; m < p.M; ++m) {
    const float* x = p.x + m * p.ldx;
    __m512 total[R];
    for (int r = 0; r < R; ++r) total[r] = _mm512_setzero_ps();
    for (int64_t k0 = 0, b = 0; k0 < p.K; k0 += p.block_k, ++b) {
      const int64_t k1 = k0 + p.block_k < p.K ? k0 + p.block_k : p.K;
      __m512 acc[R];
      for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
      for (int64_t k = k0; k < k1; k += 16) {
        const __mmask16 mk = mask_of(k1 - k);
        const __m512 xv = _mm512_maskz_loadu_ps(mk, x + k);
        // The rows stream from memory 16 bytes per step, too little for the hardware prefetcher
        // alone: fetch each row's line kFp8Ahead bytes ahead once per 64 bytes (first X row
        // only; the others find the rows in L1).
        if (m == 0 && (k & 63) == 0)
          for (int r = 0; r < R; ++r)
            _mm_prefetch(reinterpret_cast<const char*>(w[r] + k + kFp8Ahead), _MM_HINT_T0);
        for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(xv, fp8_to_f32(w[r] + k, mk), acc[r]);
      }
      for (int r = 0; r < R; ++r)
        total[r] = _mm512_fmadd_ps(acc[r], _mm512_set1_ps(s[r][b]), total[r]);
    }
    for (int r = 0; r < R; ++r) p.y[m * p.ldy + n + r] = _mm512_reduce_add_ps(total[r]);
  }
}

}  // namespace

void gemm_fp8_small_m(const GemmParams& p) {
  int64_t n = p.n_begin;
  for (; n + 4 <= p.n_end; n += 4) rows_fp8<4>(p, n);
  for (; n < p.n_end; ++n) rows_fp8<1>(p, n);
}

}  // namespace r1::kernels::avx512
