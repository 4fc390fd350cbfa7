// Small 256-bit helpers for the *_avx2.cc files, and for the AVX-512 files that run 256-bit code
// (compiled with their flags; internal linkage, so each file keeps its own copy).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace r1::kernels::avx2 {

// The sum of the 8 lanes.
static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 6-bit scales and minimums of one Q4_K_R8 super-block of a group at u (core/quant_pack.h)
// as whole bytes: chunk c row r's at sc[8c + r] and mn[8c + r] (64 bytes each, 32-byte aligned).
static inline void q4k_r8_scales(const uint8_t* u, uint8_t* sc, uint8_t* mn) {
  const __m256i low4 = _mm256_set1_epi8(0x0f), top2 = _mm256_set1_epi8(0x30);
  const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + 32));
  const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + 64));
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + 96));
  auto put = [](uint8_t* at, __m256i low, __m256i top) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(at), _mm256_or_si256(low, top));
  };
  put(sc, _mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), top2));
  put(sc + 32, _mm256_and_si256(l1, low4), _mm256_and_si256(h, top2));
  put(mn, _mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
      _mm256_and_si256(_mm256_slli_epi16(h, 2), top2));
  put(mn + 32, _mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
      _mm256_and_si256(_mm256_srli_epi16(h, 2), top2));
}

}  // namespace r1::kernels::avx2
