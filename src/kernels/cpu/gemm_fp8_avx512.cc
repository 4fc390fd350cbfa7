// Fused fp8 GEMM for small M (decode), AVX-512: W rows are read once as fp8 bytes and widened 32
// at a time in registers for all M rows of X. The block scales go on X instead of W: every row of
// one block_n group of W shares its scales, so for each group X is copied once with column k
// times s[group, k / block_k] (and a power of two, by how W is widened: kernels/gemm_fp8.h), and
// the rows need no per-block partial sums: through f16,
// y[m, n] = sum_k (x[m, k] s[n / bn, k / bk] 2^8) (w[n, k] 2^-8). Four W rows at a time, each
// 32-byte step widened once and used by every X row (64-byte steps for one X row widened as
// Subnormal, by byte permutes: AVX512-VBMI and GFNI, compiled into this file only and used where
// cpuid has them). ODR rule for ISA files: only declarations are included; helpers are in an
// anonymous namespace.
#include "kernels/cpu/avx512_intrin.h"

#include <algorithm>
#include <cstdint>

#include "core/cpu_features.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/fp8_avx512.h"
#include "kernels/gemm_fp8.h"

namespace r1::kernels::avx512 {

namespace {

// 32 e4m3 bytes widened to f32 as two vectors of 16 (unless kFull, only the first n are read,
// the rest as 0): with kSub as Fp8Widen::Subnormal (the values times 2^-120), else through f16
// (kernels/cpu/fp8_avx512.h: the values times 2^-8). NaN codes come out finite here; with kNan,
// `nan` keeps the running byte-wise maximum of the codes with the sign bit set, which reaches
// 0xff only if a NaN code was seen (2 of the 10 vector operations per 32 bytes of F16: skipped
// when the caller knows W has none).
template <bool kSub, bool kNan, bool kFull>
inline void fp8_to_f32x32(const uint8_t* src, int64_t n, __m512* lo, __m512* hi, __m512i* nan) {
  const __m256i raw = kFull ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src))
                            : _mm256_maskz_loadu_epi8((1u << n) - 1u, src);
  if constexpr (kNan)
    *nan = _mm512_max_epu8(*nan, _mm512_zextsi256_si512(_mm256_or_si256(
                                     raw, _mm256_set1_epi8(static_cast<char>(0x80)))));
  if constexpr (kSub) {
    // Each half sign-extended straight from memory when it can be (a load the widening takes as
    // its operand, instead of extracting the upper half: one X row from the caches on Zen 4 read
    // 24.4-24.9 GB/s so, 23.1-23.3 with the extract).
    const __m128i b0 = kFull ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(src))
                             : _mm256_castsi256_si128(raw);
    const __m128i b1 = kFull ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16))
                             : _mm256_extracti128_si256(raw, 1);
    const __m512i keep = _mm512_set1_epi32(static_cast<int>(0x87ffffffu));
    *lo = _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_slli_epi32(_mm512_cvtepi8_epi32(b0), 20), keep));
    *hi = _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_slli_epi32(_mm512_cvtepi8_epi32(b1), 20), keep));
  } else {
    const __m512i h = fp8_f16_bits(_mm512_slli_epi16(_mm512_cvtepi8_epi16(raw), 7));
    *lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    *hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
  }
}

// 64 e4m3 bytes straight to f32 as Fp8Widen::Subnormal (the values times 2^-120: sign to bit 31,
// the other 7 bits to bits 26-20), in order, as four vectors of 16. Two GF(2) affine maps make
// each byte's upper and lower f32 byte (s.0000.eee and e.mmm.0000), and a two-source byte permute
// (zeroing the lower two bytes of each lane) puts them in place: 6 vector operations per 64
// bytes, none a shift (sign-extension, shift and mask per 16 bytes were 12). Unless kFull only the
// first n bytes are read; kNan as in fp8_to_f32x32.
template <bool kNan, bool kFull>
inline void fp8_sub_x64(const uint8_t* src, int64_t n, __m512 (&f)[4], __m512i* nan) {
  const __m512i raw = kFull ? _mm512_loadu_si512(src)
                            : _mm512_maskz_loadu_epi8(n >= 64 ? ~0ull : (1ull << n) - 1ull, src);
  if constexpr (kNan)
    *nan = _mm512_max_epu8(*nan, _mm512_or_si512(raw, _mm512_set1_epi8(static_cast<char>(0x80))));
  // Row i of a matrix (the input bits that make output bit i) is its byte 7 - i.
  const __m512i upper = _mm512_gf2p8affine_epi64_epi8(
      raw, _mm512_set1_epi64(static_cast<long long>(0x1020400000000080ull)), 0);
  const __m512i lower =
      _mm512_gf2p8affine_epi64_epi8(raw, _mm512_set1_epi64(0x0000000001020408ll), 0);
  // Lane j of f[q]: byte 2 from lower[16q + j] (index bit 6 picks the second source), byte 3
  // from upper[16q + j], bytes 0 and 1 zero.
  const __m512i j = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i idx0 =
      _mm512_add_epi32(_mm512_or_si512(_mm512_slli_epi32(j, 16), _mm512_slli_epi32(j, 24)),
                       _mm512_set1_epi32(0x00400000));
  const __mmask64 top2 = 0xccccccccccccccccull;
  for (int q = 0; q < 4; ++q) {
    const __m512i idx = _mm512_add_epi32(idx0, _mm512_set1_epi32(q * 0x10100000));
    f[q] = _mm512_castsi512_ps(_mm512_maskz_permutex2var_epi8(top2, upper, idx, lower));
  }
}

// One step of rows_fp8 at column k, R1_FP8_KSTEP(M) columns: kFull when all of them are inside K
// (plain loads), else those past K read as 0. One X row widened as Subnormal takes 64 bytes at a
// time through fp8_sub_x64; otherwise 32 through fp8_to_f32x32 (for more X rows the widening is
// a smaller part of the work: fp8_sub_x64's permutes compete with the FMAs: at M = 2 from the
// caches it read 15.3-17.6 GB/s against 19.4-19.8). Either way the products of each row are added
// in column order.
template <int M, int R, bool kSub, bool kNan, bool kFull>
inline void fp8_step(const uint8_t* const* w, int64_t k, int64_t K, const float* xs, int64_t kpad,
                     __m512 (&acc)[M][R], __m512i* nan) {
  if constexpr (kSub && M == 1) {
    __m512 f[R][4];
    for (int r = 0; r < R; ++r) fp8_sub_x64<kNan, kFull>(w[r] + k, K - k, f[r], nan);
    for (int q = 0; q < 4; ++q) {
      const __m512 x = _mm512_loadu_ps(xs + k + 16 * q);
      for (int r = 0; r < R; ++r) acc[0][r] = _mm512_fmadd_ps(x, f[r][q], acc[0][r]);
    }
  } else {
    __m512 lo[R], hi[R];
    for (int r = 0; r < R; ++r)
      fp8_to_f32x32<kSub, kNan, kFull>(w[r] + k, K - k, &lo[r], &hi[r], nan);
    for (int m = 0; m < M; ++m) {
      const __m512 x0 = _mm512_loadu_ps(xs + m * kpad + k);
      const __m512 x1 = _mm512_loadu_ps(xs + m * kpad + k + 16);
      for (int r = 0; r < R; ++r)
        acc[m][r] = _mm512_fmadd_ps(x1, hi[r], _mm512_fmadd_ps(x0, lo[r], acc[m][r]));
    }
  }
}

// What gemm_fp8.inc's rows_fp8 needs of this ISA: its accumulator and NaN-tracking vectors.
using Fp8Acc = __m512;
using Fp8Nan = __m512i;
inline float hsum(__m512 a) {
  return _mm512_reduce_add_ps(a);
}
inline bool fp8_nan_seen(__m512i nan) {
  return _mm512_cmpeq_epi8_mask(nan, _mm512_set1_epi8(-1)) != 0;
}
inline bool fp8_sub_supported() {
  return cpu_features().has_avx512_fp8_sub();
}

}  // namespace

#define R1_FP8_ROWS(M) 4
#define R1_FP8_KSTEP(M) ((M) == 1 && kSub ? 64 : 32)
#include "kernels/cpu/gemm_fp8.inc"
#undef R1_FP8_ROWS
#undef R1_FP8_KSTEP

}  // namespace r1::kernels::avx512
