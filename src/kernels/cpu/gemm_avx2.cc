// AVX2 + FMA + F16C GEMM: Y[m, n] = sum_k X[m, k] W[n, k] (contract in kernels/kernels.h).
//
// Small M (decode): "dot tiles" of R W rows x MB X rows, one 8-lane accumulator each, reduced at
// the end; every W row is loaded once per tile and reused for all MB X rows. X is first copied
// into a zero-padded buffer (rows a multiple of 8 long), rounded to bf16 when W is bf16 and
// bf16_dot is asked for (the contract), so only W needs tail handling. bf16 W is widened by a
// 16-bit shift, f16 W with vcvtph2ps; products of bf16 values are exact in f32, so FMA matches the
// reference rounding.
//
// Large M (prefill, training): packed W panels and a 6 x 16 register-tiled micro-kernel (below).
//
// ODR rule for ISA files: only declarations are included besides <immintrin.h>; every helper
// lives in an anonymous namespace.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::avx2 {

namespace {

int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
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

// The four horizontal sums of a, b, c, d.
__m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// y[m * ldy + r * ycol] = X[m, :] . W[r * ldw, :] for r < R, m < MB; xp rows padded to ldb.
// prefetch: also fetch each W stream into L2 4 KiB ahead (see the AVX-512 version; on AVX2 it
// gains at M >= 2, up to 1.2-1.6x at M = 4, and costs ~10% at M = 1, where it is off).
template <int R, int MB, WKind kW>
void dot_tile(const float* xp, int64_t ldb, const void* w, int64_t ldw, int64_t K, float* y,
              int64_t ldy, int64_t ycol, bool prefetch) {
  constexpr int64_t es = kW == WKind::F32 ? 4 : 2;
  __m256 acc[MB][R];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      wv[r] = load_w8<kW>(w, r * ldw + k);
      if (prefetch)
        _mm_prefetch(static_cast<const char*>(w) + (r * ldw + k) * es + 4096, _MM_HINT_T1);
    }
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
  for (int m = 0; m < MB; ++m) {
    float* ym = y + m * ldy;
    if constexpr (R == 4) {
      alignas(16) float s[4];
      _mm_store_ps(s, hsum4(acc[m][0], acc[m][1], acc[m][2], acc[m][3]));
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) ym[r * ycol] = s[r];
    } else {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) ym[r * ycol] = hsum(acc[m][r]);
    }
  }
}

// R W rows (n, n + step, ...) against every X row, MB X rows at a time.
template <int R, int MB, WKind kW>
void tile_rows(const GemmParams& p, const float* xp, int64_t ldb, int64_t n, int64_t step) {
  const size_t es = kW == WKind::F32 ? 4 : 2;
  const void* w = static_cast<const char*>(p.w) + n * p.ldw * static_cast<int64_t>(es);
  const int64_t wstride = step * p.ldw;
  const bool prefetch = p.M > 1;
  int64_t m = 0;
  for (; m + MB <= p.M; m += MB)
    dot_tile<R, MB, kW>(xp + m * ldb, ldb, w, wstride, p.K, p.y + m * p.ldy + n, p.ldy, step,
                        prefetch);
  float* y = p.y + m * p.ldy + n;
  const float* x = xp + m * ldb;
  switch (p.M - m) {
    case 1:
      dot_tile<R, 1, kW>(x, ldb, w, wstride, p.K, y, p.ldy, step, prefetch);
      break;
    case 2:
      if constexpr (MB > 2) dot_tile<R, 2, kW>(x, ldb, w, wstride, p.K, y, p.ldy, step, prefetch);
      break;
    case 3:
      if constexpr (MB > 3) dot_tile<R, 3, kW>(x, ldb, w, wstride, p.K, y, p.ldy, step, prefetch);
      break;
    default:
      break;
  }
}

// Tiles of R rows a (range / R) apart (R long streams, as in the AVX-512 version), then the
// leftover rows one at a time.
template <int R, int MB, WKind kW>
void dot_rows(const GemmParams& p, const float* xp, int64_t ldb) {
  const int64_t q = (p.n_end - p.n_begin) / R;  // tile t has rows n_begin + t + r * q
  for (int64_t t = 0; t < q; ++t) tile_rows<R, MB, kW>(p, xp, ldb, p.n_begin + t, q);
  for (int64_t n = p.n_begin + R * q; n < p.n_end; ++n) tile_rows<1, MB, kW>(p, xp, ldb, n, 1);
}

// Tile shapes within 16 ymm registers: 4 W rows x 2 X rows for M < 4; from M = 4, 3 x 4 (12
// accumulators + 3 W + 1 X), measured 1.2-1.5x faster for f32 at M = 4..16 and about even
// for bf16 / f16.
template <WKind kW>
void gemm_dot_kind(const GemmParams& p, const float* xp, int64_t ldb) {
  if (p.M >= 4) {
    dot_rows<3, 4, kW>(p, xp, ldb);
  } else {
    dot_rows<4, 2, kW>(p, xp, ldb);
  }
}

void gemm_dot(const GemmParams& p) {
  const int64_t ldb = round_up(p.K, 8);
  float* xp = static_cast<float*>(scratch(kScratchX, p.M * ldb * 4));
  copy_x(p.x, p.ldx, p.M, p.K, p.wtype == DType::BF16 && p.bf16_dot, xp, ldb);
  if (p.wtype == DType::BF16) {
    gemm_dot_kind<WKind::BF16>(p, xp, ldb);
  } else if (p.wtype == DType::F16) {
    gemm_dot_kind<WKind::F16>(p, xp, ldb);
  } else {
    gemm_dot_kind<WKind::F32>(p, xp, ldb);
  }
}

// ---------------------------------------------------------------------------------------------
// Large M (prefill, training): packed panels and a 6 x 16 outer-product micro-kernel (12 ymm
// accumulators, 2 W vectors, 1 broadcast: 15 of the 16 registers). Same loop nest as the AVX-512
// version (kernels/cpu/gemm_avx512.cc); every W dtype is packed widened to f32 panels [KC][16]
// (bf16 and f16 widen exactly), and for bf16 W the X rows are read from a bf16-rounded copy.

constexpr int kMr = 6;
constexpr int kNr = 16;
constexpr int64_t kNc = 256, kKc = 256;  // packed W block: 256 KiB
constexpr int64_t kMc = 256;             // X rows per chunk (bounds the rounded copy of X)

// Transposes the 8 x 8 block r[0..7] (row i -> column i).
void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i) {
    u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xee);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xee);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}

template <WKind kW>
void pack_w_kind(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                 float* dst) {
  const char* wbase = static_cast<const char*>(p.w);
  for (int64_t g = 0; g < round_up(rows, 8); g += 8) {  // groups of 8 W rows
    float* panel = dst + (g / kNr) * kc * kNr + (g % kNr);
    for (int64_t k = 0; k < kc; k += 8) {
      const int64_t count = kc - k < 8 ? kc - k : 8;
      __m256 r[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        if (g + i >= rows) {
          r[i] = _mm256_setzero_ps();
          continue;
        }
        const int64_t off = (n0 + g + i) * p.ldw + k0 + k;
        r[i] = count == 8 ? load_w8<kW>(wbase, off) : load_w_part<kW>(wbase, off, count);
      }
      transpose8(r);
      for (int64_t j = 0; j < count; ++j) _mm256_store_ps(panel + (k + j) * kNr, r[j]);
    }
  }
}

// W stored k-major (f32): each panel row is a copy of 16 columns, zeros past `rows`.
void pack_w_trans(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                  float* dst) {
  const float* w = static_cast<const float*>(p.w);
  for (int64_t j = 0; j < rows; j += kNr) {
    const int64_t cols = rows - j < kNr ? rows - j : kNr;
    float* panel = dst + (j / kNr) * kc * kNr;
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = w + (k0 + k) * p.ldw + n0 + j;
      float* out = panel + k * kNr;
      if (cols == kNr) {
        _mm256_store_ps(out, _mm256_loadu_ps(src));
        _mm256_store_ps(out + 8, _mm256_loadu_ps(src + 8));
      } else {
        for (int64_t c = 0; c < kNr; ++c) out[c] = c < cols ? src[c] : 0.0f;
      }
    }
  }
}

void pack_w(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc, float* dst) {
  if (p.w_trans) {
    pack_w_trans(p, n0, rows, k0, kc, dst);
  } else if (p.wtype == DType::BF16) {
    pack_w_kind<WKind::BF16>(p, n0, rows, k0, kc, dst);
  } else if (p.wtype == DType::F16) {
    pack_w_kind<WKind::F16>(p, n0, rows, k0, kc, dst);
  } else {
    pack_w_kind<WKind::F32>(p, n0, rows, k0, kc, dst);
  }
  if (p.wtype == DType::F32 && p.bf16_dot) {  // the contract: f32 W rounded to bf16 too
    const int64_t n = round_up(rows, kNr) * kc;
    for (int64_t i = 0; i < n; i += 8)
      _mm256_store_ps(dst + i, round_bf16(_mm256_load_ps(dst + i)));
  }
}

// X rounded to bf16 for bf16_dot, k-major (x_trans): rows k of m_count values, stride ldr.
void copy_x_trans_bf16(const float* x, int64_t ldx, int64_t m_count, int64_t K, float* xr,
                       int64_t ldr) {
  for (int64_t k = 0; k < K; ++k) {
    const float* src = x + k * ldx;
    float* dst = xr + k * ldr;
    int64_t m = 0;
    for (; m + 8 <= m_count; m += 8)
      _mm256_storeu_ps(dst + m, round_bf16(_mm256_loadu_ps(src + m)));
    if (m < m_count) {  // the last few through a zero-padded vector
      alignas(32) float tail[8] = {};
      std::memcpy(tail, src + m, static_cast<size_t>(m_count - m) * 4);
      _mm256_store_ps(tail, round_bf16(_mm256_load_ps(tail)));
      std::memcpy(dst + m, tail, static_cast<size_t>(m_count - m) * 4);
    }
  }
}

// Y[0 : MR, 0 : nr] (+)= X rows (stride ldx; XT: k-major, X[m, k] at x[k * ldx + m]) .
// panel [kc][16].
template <int MR, bool XT>
void micro(const float* x, int64_t ldx, const float* panel, int64_t kc, float* y, int64_t ldy,
           int64_t nr, bool accumulate) {
  __m256 c0[MR], c1[MR];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) c0[m] = c1[m] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(panel + k * kNr), b1 = _mm256_load_ps(panel + k * kNr + 8);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m256 a = _mm256_broadcast_ss(XT ? x + k * ldx + m : x + m * ldx + k);
      c0[m] = _mm256_fmadd_ps(a, b0, c0[m]);
      c1[m] = _mm256_fmadd_ps(a, b1, c1[m]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    float* row = y + m * ldy;
    if (nr == kNr) {
      if (accumulate) {
        c0[m] = _mm256_add_ps(c0[m], _mm256_loadu_ps(row));
        c1[m] = _mm256_add_ps(c1[m], _mm256_loadu_ps(row + 8));
      }
      _mm256_storeu_ps(row, c0[m]);
      _mm256_storeu_ps(row + 8, c1[m]);
    } else {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, c0[m]);
      _mm256_store_ps(tmp + 8, c1[m]);
      for (int64_t j = 0; j < nr; ++j) row[j] = accumulate ? row[j] + tmp[j] : tmp[j];
    }
  }
}

template <bool XT>
void micro_tile(int64_t mr, const float* x, int64_t ldx, const float* panel, int64_t kc, float* y,
                int64_t ldy, int64_t nr, bool acc) {
  switch (mr) {
    case 1:
      micro<1, XT>(x, ldx, panel, kc, y, ldy, nr, acc);
      break;
    case 2:
      micro<2, XT>(x, ldx, panel, kc, y, ldy, nr, acc);
      break;
    case 3:
      micro<3, XT>(x, ldx, panel, kc, y, ldy, nr, acc);
      break;
    case 4:
      micro<4, XT>(x, ldx, panel, kc, y, ldy, nr, acc);
      break;
    case 5:
      micro<5, XT>(x, ldx, panel, kc, y, ldy, nr, acc);
      break;
    case 6:
      micro<6, XT>(x, ldx, panel, kc, y, ldy, nr, acc);
      break;
    default:
      break;
  }
}

void gemm_packed(const GemmParams& p) {
  const bool bf16 = (p.wtype == DType::BF16 || p.wtype == DType::F32) && p.bf16_dot;
  float* wp = static_cast<float*>(scratch(kScratchW, kNc * kKc * 4));
  for (int64_t mc = 0; mc < p.M; mc += kMc) {
    const int64_t m_count = p.M - mc < kMc ? p.M - mc : kMc;
    const float* x = p.x + (p.x_trans ? mc : mc * p.ldx);
    int64_t ldx = p.ldx;
    if (bf16 && p.x_trans) {  // the contract: X rounded to bf16 (k-major stays k-major)
      ldx = round_up(m_count, 8);
      float* xr = static_cast<float*>(scratch(kScratchX, p.K * ldx * 4));
      copy_x_trans_bf16(x, p.ldx, m_count, p.K, xr, ldx);
      x = xr;
    } else if (bf16) {
      ldx = round_up(p.K, 8);
      float* xr = static_cast<float*>(scratch(kScratchX, m_count * ldx * 4));
      copy_x(x, p.ldx, m_count, p.K, true, xr, ldx);
      x = xr;
    }
    float* y_chunk = p.y + mc * p.ldy;
    for (int64_t n0 = p.n_begin; n0 < p.n_end; n0 += kNc) {
      const int64_t rows = p.n_end - n0 < kNc ? p.n_end - n0 : kNc;
      for (int64_t k0 = 0; k0 < p.K; k0 += kKc) {
        const int64_t kc = p.K - k0 < kKc ? p.K - k0 : kKc;
        pack_w(p, n0, rows, k0, kc, wp);
        for (int64_t m0 = 0; m0 < m_count; m0 += kMr) {
          const int64_t mr = m_count - m0 < kMr ? m_count - m0 : kMr;
          for (int64_t j = 0; j < rows; j += kNr) {
            const int64_t nr = rows - j < kNr ? rows - j : kNr;
            const float* panel = wp + (j / kNr) * kc * kNr;
            float* y = y_chunk + m0 * p.ldy + n0 + j;
            if (p.x_trans) {
              micro_tile<true>(mr, x + k0 * ldx + m0, ldx, panel, kc, y, p.ldy, nr,
                               k0 > 0 || p.accumulate);
            } else {
              micro_tile<false>(mr, x + m0 * ldx + k0, ldx, panel, kc, y, p.ldy, nr,
                                k0 > 0 || p.accumulate);
            }
          }
        }
      }
    }
  }
}

// Which path: measured on Zen 4 (K=1536/N=8960 and K=8960/N=1536, W from memory), the dot
// tiles win up to M = 32 (f32 74 vs 63 GFLOP/s, bf16 82 vs 66), the packed path from M = 64
// (f32 83 vs 73; K = 8960: 77 vs 54) and more so beyond (M = 256: 97 vs 64).
bool use_packed(const GemmParams& p) {
  return p.M >= 48;
}

// The packed path is the only one that rounds f32 W to bf16 (bf16_dot).
bool packed_only(const GemmParams& p) {
  return p.x_trans || p.w_trans || p.accumulate || (p.wtype == DType::F32 && p.bf16_dot);
}

}  // namespace

void gemm_small_m(const GemmParams& p) {
  if (gemm_trivial(p)) return;
  if (packed_only(p)) return gemm_packed(p);  // either layout, +=, f32 W rounded
  gemm_dot(p);
}
void gemm_large_m(const GemmParams& p) {
  if (!gemm_trivial(p)) gemm_packed(p);
}

void gemm(const GemmParams& p) {
  if (gemm_trivial(p)) return;
  if (use_packed(p) || packed_only(p)) {
    gemm_packed(p);
  } else {
    gemm_dot(p);
  }
}

}  // namespace r1::kernels::avx2
