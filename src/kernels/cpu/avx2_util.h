// Small 256-bit helpers for the *_avx2.cc files, and for the AVX-512 files that run 256-bit code
// (compiled with their flags; internal linkage, so each file keeps its own copy).
#pragma once

#include <immintrin.h>

namespace r1::kernels::avx2 {

// The sum of the 8 lanes.
static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace r1::kernels::avx2
