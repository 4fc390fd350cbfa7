// e4m3 bytes to f32 with AVX-512, for the *_avx512.cc files only (compiled with their flags; the
// functions have internal linkage, so each file keeps its own copy).
//
// Sign-extended to 16 bits and shifted left by 7, byte s.eeee.mmm becomes s.s.eeee.mmm.0000000;
// with bit 14 cleared that is the f16 s.0eeee.mmm0000000 = (-1)^s 2^(e-15) (1 + m/8), or for
// e = 0 the subnormal (-1)^s 2^-14 m/8: in both cases the e4m3 value (bias 7) times 2^-8, exactly.
// vcvtph2ps widens f16 subnormals at full speed, where f32 arithmetic on subnormal inputs is
// slow on Intel (microcode assists: the earlier route through f32 subnormals streamed fp8
// weights at 0.5 GB/s on a Xeon).
#pragma once

#include "kernels/cpu/avx512_intrin.h"

#include <cstdint>

namespace r1::kernels::avx512 {

// The f16 values (as above) of 16-bit lanes holding the sign-extended bytes shifted left by 7.
static inline __m256i fp8_f16_bits(__m256i u) {
  return _mm256_and_si256(u, _mm256_set1_epi16(static_cast<int16_t>(0xbfff)));
}
static inline __m512i fp8_f16_bits(__m512i u) {
  return _mm512_and_si512(u, _mm512_set1_epi16(static_cast<int16_t>(0xbfff)));
}

// 16 e4m3 bytes (those outside mask read as 0) as f32 times 2^-8; NaN codes (eeee.mmm all ones)
// give NaN.
static inline __m512 fp8x16_times_2m8(const uint8_t* src, __mmask16 mask) {
  const __m256i u = _mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_maskz_loadu_epi8(mask, src)), 7);
  const __m256i mag = _mm256_set1_epi16(0x3f80);
  const __m256i h =
      _mm256_mask_mov_epi16(fp8_f16_bits(u), _mm256_cmpeq_epi16_mask(_mm256_and_si256(u, mag), mag),
                            _mm256_set1_epi16(0x7e00));
  return _mm512_cvtph_ps(h);
}

}  // namespace r1::kernels::avx512
