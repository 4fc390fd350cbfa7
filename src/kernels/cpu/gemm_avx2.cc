// AVX2 + FMA + F16C GEMM: Y[m, n] = sum_k X[m, k] W[n, k] (contract in kernels/kernels.h).
//
// Small M (decode): "dot tiles" of R W rows x MB X rows, one 8-lane accumulator each, reduced at
// the end; every W row is loaded once per tile and reused for all MB X rows. X is first copied
// into a zero-padded buffer (rows a multiple of 8 long), rounded to bf16 when W is bf16 (the
// contract), so only W needs tail handling. bf16 W is widened by a 16-bit shift, f16 W with
// vcvtph2ps; products of bf16 values are exact in f32, so FMA matches the reference rounding.
//
// ODR rule for ISA files: only declarations are included besides <immintrin.h>; every helper
// lives in an anonymous namespace.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::avx2 {

namespace {

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Round f32 lanes to bf16 (nearest even; NaN stays NaN), returned as f32.
__m256 round_bf16(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb);
  r = _mm256_and_si256(r, _mm256_set1_epi32(static_cast<int>(0xffff0000u)));
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  const __m256 quiet = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(u, _mm256_set1_epi32(static_cast<int>(0xffff0000u))),
                      _mm256_set1_epi32(0x400000)));
  return _mm256_blendv_ps(_mm256_castsi256_ps(r), quiet, nan);
}

// X rows [M, K] -> rows of length ldb (multiple of 8, zero padded), bf16-rounded if asked.
void copy_x(const float* x, int64_t ldx, int64_t M, int64_t K, bool bf16, float* xp, int64_t ldb) {
  for (int64_t m = 0; m < M; ++m) {
    const float* src = x + m * ldx;
    float* dst = xp + m * ldb;
    std::memcpy(dst, src, static_cast<size_t>(K) * 4);
    for (int64_t k = K; k < ldb; ++k) dst[k] = 0.0f;
    if (bf16)
      for (int64_t k = 0; k < ldb; k += 8)
        _mm256_storeu_ps(dst + k, round_bf16(_mm256_loadu_ps(dst + k)));
  }
}

enum class WKind { F32, BF16, F16 };

template <WKind kW>
__m256 load_w8(const void* w, int64_t off) {
  if constexpr (kW == WKind::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(w) + off);
  } else {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + off));
    if constexpr (kW == WKind::F16) {
      return _mm256_cvtph_ps(h);
    } else {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
}

// The last count (< 8) elements of a row, zero padded.
template <WKind kW>
__m256 load_w_part(const void* w, int64_t off, int64_t count) {
  constexpr size_t es = kW == WKind::F32 ? 4 : 2;
  alignas(32) uint8_t tmp[32] = {};
  std::memcpy(tmp, static_cast<const uint8_t*>(w) + off * static_cast<int64_t>(es),
              static_cast<size_t>(count) * es);
  return load_w8<kW>(tmp, 0);
}

// y[m * ldy + r] = X[m, :] . W[r, :] for r < R, m < MB; xp rows padded to ldb.
template <int R, int MB, WKind kW>
void dot_tile(const float* xp, int64_t ldb, const void* w, int64_t ldw, int64_t K, float* y,
              int64_t ldy) {
  __m256 acc[MB][R];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load_w8<kW>(w, r * ldw + k);
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m256 xv = _mm256_loadu_ps(xp + m * ldb + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_fmadd_ps(xv, wv[r], acc[m][r]);
    }
  }
  if (k < K) {
    __m256 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load_w_part<kW>(w, r * ldw + k, K - k);
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m256 xv = _mm256_loadu_ps(xp + m * ldb + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[m][r] = _mm256_fmadd_ps(xv, wv[r], acc[m][r]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[m * ldy + r] = hsum(acc[m][r]);
}

template <int R, int MB>
void tile_at(const GemmParams& p, const float* xp, int64_t ldb, int64_t m, int64_t n) {
  float* y = p.y + m * p.ldy + n;
  const float* x = xp + m * ldb;
  switch (p.wtype) {
    case DType::BF16:
      dot_tile<R, MB, WKind::BF16>(x, ldb, static_cast<const uint16_t*>(p.w) + n * p.ldw, p.ldw,
                                   p.K, y, p.ldy);
      break;
    case DType::F16:
      dot_tile<R, MB, WKind::F16>(x, ldb, static_cast<const uint16_t*>(p.w) + n * p.ldw, p.ldw, p.K,
                                  y, p.ldy);
      break;
    default:
      dot_tile<R, MB, WKind::F32>(x, ldb, static_cast<const float*>(p.w) + n * p.ldw, p.ldw, p.K, y,
                                  p.ldy);
      break;
  }
}

template <int R>
void tile_rows(const GemmParams& p, const float* xp, int64_t ldb, int64_t n) {
  constexpr int kMB = 2;
  int64_t m = 0;
  for (; m + kMB <= p.M; m += kMB) tile_at<R, kMB>(p, xp, ldb, m, n);
  if (m < p.M) tile_at<R, 1>(p, xp, ldb, m, n);
}

void gemm_dot(const GemmParams& p) {
  const int64_t ldb = round_up(p.K, 8);
  float* xp = static_cast<float*>(scratch(kScratchX, p.M * ldb * 4));
  copy_x(p.x, p.ldx, p.M, p.K, p.wtype == DType::BF16, xp, ldb);
  constexpr int kR = 4;
  int64_t n = p.n_begin;
  for (; n + kR <= p.n_end; n += kR) tile_rows<kR>(p, xp, ldb, n);
  for (; n < p.n_end; ++n) tile_rows<1>(p, xp, ldb, n);
}

// Handles what needs no arithmetic: an unsupported W type (an error), nothing to compute, K = 0.
// Returns true when it did.
bool trivial(const GemmParams& p) {
  if (p.wtype != DType::F32 && p.wtype != DType::BF16 && p.wtype != DType::F16) {
    ref::gemm(p);  // reports the unsupported type
    return true;
  }
  if (p.M <= 0 || p.n_end <= p.n_begin) return true;
  if (p.K <= 0) {
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = p.n_begin; n < p.n_end; ++n) p.y[m * p.ldy + n] = 0.0f;
    return true;
  }
  return false;
}

}  // namespace

void gemm_small_m(const GemmParams& p) {
  if (!trivial(p)) gemm_dot(p);
}
void gemm_large_m(const GemmParams& p) {
  if (!trivial(p)) gemm_dot(p);
}

void gemm(const GemmParams& p) {
  if (trivial(p)) return;
  gemm_dot(p);
}

}  // namespace r1::kernels::avx2
