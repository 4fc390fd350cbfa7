// AVX-512 GEMM: Y[m, n] = sum_k X[m, k] W[n, k] (contract in kernels/kernels.h).
//
// Small M (decode): W rows are streamed once and each is reused for every X row while it sits in
// registers or L1 ("dot tiles": R rows of W x MB rows of X, one 16-lane accumulator each,
// reduced at the end). bf16 W uses vdpbf16ps with X converted to bf16 once per call; f16 W is
// widened with vcvtph2ps; f32 W uses FMA.
//
// ODR rule for ISA files: only declarations are included besides <immintrin.h>; every helper
// lives in an anonymous namespace.
// GCC 12's AVX-512 headers build "undefined" vectors from self-initialised variables, which
// -Wuninitialized reports once _mm512_cvtph_ps / _mm512_reduce_* are inlined (GCC PR 105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::avx512 {

namespace {

__mmask16 mask16(int64_t r) {
  return static_cast<__mmask16>((1u << r) - 1u);
}  // r in [0,16]
__mmask32 mask32(int64_t r) {
  return r >= 32 ? 0xffffffffu : static_cast<__mmask32>((1u << r) - 1u);
}
int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

// X rows [M, K] -> bf16 rows of length ldb (>= K, zero padded), round to nearest even.
void convert_x_bf16(const float* x, int64_t ldx, int64_t M, int64_t K, uint16_t* xb, int64_t ldb) {
  for (int64_t m = 0; m < M; ++m) {
    const float* src = x + m * ldx;
    uint16_t* dst = xb + m * ldb;
    for (int64_t k = 0; k < ldb; k += 16) {
      __m512 v = _mm512_maskz_loadu_ps(mask16(K - k <= 0 ? 0 : (K - k < 16 ? K - k : 16)), src + k);
      __m256bh b = _mm512_cvtneps_pbh(v);
      std::memcpy(dst + k, &b, 32);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dot tiles: y[m * ldy + r] = X[m, :] . W[r, :] for r < R, m < MB.

template <bool kF16>
__m512 load_w16(const void* w, int64_t off, __mmask16 m) {
  if constexpr (kF16) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(w) + off));
  } else {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(w) + off);
  }
}

// f32 or f16 W, f32 X.
template <int R, int MB, bool kF16>
void dot_tile(const float* x, int64_t ldx, const void* w, int64_t ldw, int64_t K, float* y,
              int64_t ldy) {
  __m512 acc[MB][R];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k < K; k += 16) {
    const __mmask16 mk = K - k >= 16 ? static_cast<__mmask16>(0xffff) : mask16(K - k);
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load_w16<kF16>(w, r * ldw + k, mk);
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m512 xv = _mm512_maskz_loadu_ps(mk, x + m * ldx + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_fmadd_ps(xv, wv[r], acc[m][r]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]);
}

// bf16 W, X already bf16 with rows zero padded to a multiple of 32 (ldb).
template <int R, int MB>
void dot_tile_bf16(const uint16_t* xb, int64_t ldb, const uint16_t* w, int64_t ldw, int64_t K,
                   float* y, int64_t ldy) {
  __m512 acc[MB][R];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 32) {
    const __mmask32 mk = mask32(K - k);
    __m512bh wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = (__m512bh)_mm512_maskz_loadu_epi16(mk, w + r * ldw + k);
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(xb + m * ldb + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[m][r] = _mm512_dpbf16_ps(acc[m][r], xv, wv[r]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) y[m * ldy + r] = _mm512_reduce_add_ps(acc[m][r]);
}

// One tile of R W rows starting at row n against MB X rows starting at row m.
template <int R, int MB>
void tile_at(const GemmParams& p, const uint16_t* xb, int64_t ldb, int64_t m, int64_t n) {
  float* y = p.y + m * p.ldy + n;
  switch (p.wtype) {
    case DType::BF16:
      dot_tile_bf16<R, MB>(xb + m * ldb, ldb, static_cast<const uint16_t*>(p.w) + n * p.ldw, p.ldw,
                           p.K, y, p.ldy);
      break;
    case DType::F16:
      dot_tile<R, MB, true>(p.x + m * p.ldx, p.ldx, static_cast<const uint16_t*>(p.w) + n * p.ldw,
                            p.ldw, p.K, y, p.ldy);
      break;
    default:
      dot_tile<R, MB, false>(p.x + m * p.ldx, p.ldx, static_cast<const float*>(p.w) + n * p.ldw,
                             p.ldw, p.K, y, p.ldy);
      break;
  }
}

template <int R>
void tile_rows(const GemmParams& p, const uint16_t* xb, int64_t ldb, int64_t n) {
  constexpr int kMB = 4;
  int64_t m = 0;
  for (; m + kMB <= p.M; m += kMB) tile_at<R, kMB>(p, xb, ldb, m, n);
  switch (p.M - m) {
    case 1:
      tile_at<R, 1>(p, xb, ldb, m, n);
      break;
    case 2:
      tile_at<R, 2>(p, xb, ldb, m, n);
      break;
    case 3:
      tile_at<R, 3>(p, xb, ldb, m, n);
      break;
    default:
      break;
  }
}

void gemm_dot(const GemmParams& p) {
  const uint16_t* xb = nullptr;
  int64_t ldb = 0;
  if (p.wtype == DType::BF16) {
    ldb = round_up(p.K, 32);
    uint16_t* buf = static_cast<uint16_t*>(scratch(kScratchX, p.M * ldb * 2));
    convert_x_bf16(p.x, p.ldx, p.M, p.K, buf, ldb);
    xb = buf;
  }
  constexpr int kR = 4;
  int64_t n = p.n_begin;
  for (; n + kR <= p.n_end; n += kR) tile_rows<kR>(p, xb, ldb, n);
  for (; n < p.n_end; ++n) tile_rows<1>(p, xb, ldb, n);
}

}  // namespace

void gemm(const GemmParams& p) {
  if (p.wtype != DType::F32 && p.wtype != DType::BF16 && p.wtype != DType::F16) {
    ref::gemm(p);  // reports the unsupported type
    return;
  }
  if (p.M <= 0 || p.n_end <= p.n_begin) return;
  if (p.K <= 0) {
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = p.n_begin; n < p.n_end; ++n) p.y[m * p.ldy + n] = 0.0f;
    return;
  }
  gemm_dot(p);
}

}  // namespace r1::kernels::avx512
