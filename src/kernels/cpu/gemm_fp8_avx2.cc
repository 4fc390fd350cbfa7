// Fused fp8 GEMM for small M (decode), AVX2 + F16C: the AVX-512 kernel's scheme
// (gemm_fp8_avx512.cc) in 8-lane registers. W rows are read once as fp8 bytes, 16 at a time,
// widened through f16 (sign-extend, shift left by 7, clear bit 14: the f16 of the e4m3 value
// times 2^-8, exactly; vcvtph2ps then gives f32) or straight to f32 (kernels/gemm_fp8.h:
// Fp8Widen) and used by every X row; the block scales (and a power of two) go on a copy of X per
// block_n group of W rows. 16 ymm registers hold M x R accumulators, 2R widened W vectors and X:
// R = 4 rows for one X row, 2 for more. ODR rule for ISA files: only declarations are included;
// helpers are in an anonymous namespace.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/gemm_fp8.h"

namespace r1::kernels::avx2 {

namespace {

// Up to 16 e4m3 bytes (the rest read as 0) as two vectors of 8 f32 values: with kSub as
// Fp8Widen::Subnormal (the values times 2^-120), else through f16 (the values times 2^-8). NaN
// codes come out finite; with kNan, `nan` keeps the byte-wise maximum of the codes with the sign
// bit set, 0xff only once a NaN code was seen.
template <bool kSub, bool kNan, bool kFull>
inline void fp8_to_f32x16(const uint8_t* src, int64_t n, __m256* lo, __m256* hi, __m128i* nan) {
  alignas(16) uint8_t tmp[16] = {};
  if constexpr (!kFull) {
    std::copy(src, src + n, tmp);
    src = tmp;
  }
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  if constexpr (kNan)
    *nan = _mm_max_epu8(*nan, _mm_or_si128(raw, _mm_set1_epi8(static_cast<char>(0x80))));
  if constexpr (kSub) {
    // Each half sign-extended from its own 8-byte load (the widening takes it as its operand).
    const __m256i keep = _mm256_set1_epi32(static_cast<int>(0x87ffffffu));
    const __m256i d0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)));
    const __m256i d1 =
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 8)));
    *lo = _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(d0, 20), keep));
    *hi = _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(d1, 20), keep));
  } else {
    const __m256i h = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(raw), 7),
                                       _mm256_set1_epi16(static_cast<int16_t>(0xbfff)));
    *lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
    *hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
  }
}

// One 16-byte step of rows_fp8 at column k: kFull when all 16 columns are inside K, else those
// past K read as 0.
template <int M, int R, bool kSub, bool kNan, bool kFull>
inline void fp8_step(const uint8_t* const* w, int64_t k, int64_t K, const float* xs, int64_t kpad,
                     __m256 (&acc)[M][R], __m128i* nan) {
  __m256 lo[R], hi[R];
  for (int r = 0; r < R; ++r)
    fp8_to_f32x16<kSub, kNan, kFull>(w[r] + k, K - k, &lo[r], &hi[r], nan);
  for (int m = 0; m < M; ++m) {
    const __m256 x0 = _mm256_loadu_ps(xs + m * kpad + k);
    const __m256 x1 = _mm256_loadu_ps(xs + m * kpad + k + 8);
    for (int r = 0; r < R; ++r)
      acc[m][r] = _mm256_fmadd_ps(x1, hi[r], _mm256_fmadd_ps(x0, lo[r], acc[m][r]));
  }
}

// What gemm_fp8.inc's rows_fp8 needs of this ISA: its accumulator and NaN-tracking vectors.
using Fp8Acc = __m256;
using Fp8Nan = __m128i;
inline bool fp8_nan_seen(__m128i nan) {
  return _mm_movemask_epi8(_mm_cmpeq_epi8(nan, _mm_set1_epi8(-1))) != 0;
}
inline bool fp8_sub_supported() {
  return true;
}

}  // namespace

#define R1_FP8_ROWS(M) ((M) == 1 ? 4 : 2)
#define R1_FP8_KSTEP(M) 16
#include "kernels/cpu/gemm_fp8.inc"
#undef R1_FP8_ROWS
#undef R1_FP8_KSTEP

}  // namespace r1::kernels::avx2
