// Attention kernels for many query rows over the same cached rows (kAttnWideRows or more: a
// prefill tile of several tokens' heads, or MLA's many heads), shaped as GEMMs: the decode tiles
// of attn.inc reduce every score across a vector (a 16-way sum per 4 x 4 tile) and load a query
// chunk for every 4 products, which caps them near a quarter of the FMA peak; here
//   scores: each chunk of 64 keys is transposed once into k-major f32 (kScratchW), and a tile of
//           6 query rows x 64 keys keeps 24 accumulators over d: per d, 4 key vectors and 6
//           broadcast query values for 24 FMAs, and no reduction at the end;
//   values: a tile of 6 rows x 64 output columns keeps 24 accumulators over the cached rows:
//           per row, 4 value vectors and 6 broadcast probabilities for 24 FMAs. Cached rows go
//           in passes of kValueRows, whose bytes stay in L2 while every tile of rows takes them.
// The interface and numerics are KernelTable::attn_scores / attn_values' (kernels.h).
//
// ODR rule for ISA files: only declarations are included besides <immintrin.h> (avx512_intrin.h);
// every helper lives in an anonymous namespace.
#include "kernels/cpu/avx512_intrin.h"

#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::avx512 {

namespace {

#include "kernels/cpu/transpose16_avx512.inc"

constexpr int kTileRows = 6;
constexpr int64_t kKeys = 64;        // keys per transposed chunk (4 vectors)
constexpr int64_t kValueRows = 256;  // cached rows per values pass

__mmask16 lanes(int64_t r) {  // the first r lanes, r clamped to [0, 16]
  return r <= 0 ? 0 : r >= 16 ? 0xffff : static_cast<__mmask16>((1u << r) - 1u);
}

// 16 elements [i, i + 16) of a cached row (f32, or bf16 widened exactly); lanes outside m are 0.
template <bool kBf16>
__m512 cached16(const void* row, int64_t i, __mmask16 m) {
  if constexpr (kBf16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + i)),
        16));
  return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + i);
}

// Rows k[0, nj) (nj <= kKeys) transposed: kt[d * kKeys + j] = k_j[d]; keys from nj on are 0.
// The same elements of the next chunk's rows next[0, n_next) are prefetched into L2 meanwhile
// (cached rows lie in short runs the hardware prefetchers do not follow).
template <bool kBf16>
void pack_keys(const void* const* k, int64_t nj, const void* const* next, int64_t n_next, int64_t D,
               float* kt) {
  constexpr int64_t kEs = kBf16 ? 2 : 4;
  for (int64_t j0 = 0; j0 < kKeys; j0 += 16)
    for (int64_t d0 = 0; d0 < D; d0 += 16) {
      const __mmask16 m = lanes(D - d0);
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        if (j0 + i < n_next && (d0 * kEs) % 64 == 0)
          _mm_prefetch(static_cast<const char*>(next[j0 + i]) + d0 * kEs, _MM_HINT_T1);
        r[i] = j0 + i < nj ? _mm512_castps_si512(cached16<kBf16>(k[j0 + i], d0, m))
                           : _mm512_setzero_si512();
      }
      transpose16(r);
      for (int64_t d = d0; d < D && d < d0 + 16; ++d)
        _mm512_store_si512(kt + d * kKeys + j0, r[d - d0]);
    }
}

// s[i * lds + j] = scale * q_i . k_j for R query rows (q rows D apart) and keys j < nj of the
// transposed chunk kt.
template <int R>
void score_tile(const float* q, int64_t D, const float* kt, __m512 scale, float* s, int64_t lds,
                int64_t nj) {
  __m512 acc[R][4];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i)
    for (int c = 0; c < 4; ++c) acc[i][c] = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; ++d) {
    const float* kd = kt + d * kKeys;
    const __m512 k0 = _mm512_load_ps(kd), k1 = _mm512_load_ps(kd + 16);
    const __m512 k2 = _mm512_load_ps(kd + 32), k3 = _mm512_load_ps(kd + 48);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      const __m512 b = _mm512_set1_ps(q[i * D + d]);
      acc[i][0] = _mm512_fmadd_ps(b, k0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(b, k1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(b, k2, acc[i][2]);
      acc[i][3] = _mm512_fmadd_ps(b, k3, acc[i][3]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int c = 0; c < 4; ++c)
      _mm512_mask_storeu_ps(s + i * lds + 16 * c, lanes(nj - 16 * c),
                            _mm512_mul_ps(acc[i][c], scale));
}

// The tiles of 1 .. kTileRows rows, by row count - 1.
using ScoreTile = void (*)(const float*, int64_t, const float*, __m512, float*, int64_t, int64_t);
constexpr ScoreTile kScoreTiles[kTileRows] = {score_tile<1>, score_tile<2>, score_tile<3>,
                                              score_tile<4>, score_tile<5>, score_tile<6>};

template <bool kBf16>
void scores_wide(const float* q, int64_t G, int64_t D, const void* const* k, int64_t n, float scale,
                 float* s, int64_t lds) {
  float* kt = static_cast<float*>(scratch(kScratchW, static_cast<size_t>(D * kKeys) * 4));
  const __m512 sv = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < n; j0 += kKeys) {
    const int64_t nj = n - j0 < kKeys ? n - j0 : kKeys;
    const int64_t left = n - j0 - nj;
    pack_keys<kBf16>(k + j0, nj, k + j0 + nj, left < kKeys ? left : kKeys, D, kt);
    for (int64_t r = 0; r < G; r += kTileRows) {
      const float* qr = q + r * D;
      float* sr = s + r * lds + j0;
      kScoreTiles[(G - r < kTileRows ? G - r : kTileRows) - 1](qr, D, kt, sv, sr, lds, nj);
    }
  }
}

// o[i * D + d] += sum_{j < n} p[i * ldp + j] v_j[d] for R rows, 64 columns at a time; the same
// columns of rows next[0, n_next) are prefetched into L2 as rows [0, n_next) are read, and of
// row j + 8 into L1 (the pass's rows are in L2, in runs too short for the L1 prefetcher).
template <bool kBf16, int R>
void value_tile(const float* p, int64_t ldp, int64_t D, const void* const* v, int64_t n,
                const void* const* next, int64_t n_next, float* o) {
  constexpr int64_t kEs = kBf16 ? 2 : 4;
  for (int64_t d0 = 0; d0 < D; d0 += 64) {
    __mmask16 m[4];
    for (int c = 0; c < 4; ++c) m[c] = lanes(D - d0 - 16 * c);
    __m512 acc[R][4];
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i)
      for (int c = 0; c < 4; ++c) acc[i][c] = _mm512_maskz_loadu_ps(m[c], o + i * D + d0 + 16 * c);
    for (int64_t j = 0; j < n; ++j) {
      if (j < n_next)
        for (int64_t b = d0 * kEs; b < (d0 + 64 < D ? d0 + 64 : D) * kEs; b += 64)
          _mm_prefetch(static_cast<const char*>(next[j]) + b, _MM_HINT_T1);
      if (j + 8 < n)
        for (int64_t b = d0 * kEs; b < (d0 + 64 < D ? d0 + 64 : D) * kEs; b += 64)
          _mm_prefetch(static_cast<const char*>(v[j + 8]) + b, _MM_HINT_T0);
      __m512 vv[4];
      for (int c = 0; c < 4; ++c) vv[c] = cached16<kBf16>(v[j], d0 + 16 * c, m[c]);
#pragma GCC unroll 6
      for (int i = 0; i < R; ++i) {
        const __m512 pb = _mm512_set1_ps(p[i * ldp + j]);
        for (int c = 0; c < 4; ++c) acc[i][c] = _mm512_fmadd_ps(pb, vv[c], acc[i][c]);
      }
    }
    for (int i = 0; i < R; ++i)
      for (int c = 0; c < 4; ++c) _mm512_mask_storeu_ps(o + i * D + d0 + 16 * c, m[c], acc[i][c]);
  }
}

using ValueTile = void (*)(const float*, int64_t, int64_t, const void* const*, int64_t,
                           const void* const*, int64_t, float*);
template <bool kBf16>
constexpr ValueTile kValueTiles[kTileRows] = {value_tile<kBf16, 1>, value_tile<kBf16, 2>,
                                              value_tile<kBf16, 3>, value_tile<kBf16, 4>,
                                              value_tile<kBf16, 5>, value_tile<kBf16, 6>};

template <bool kBf16>
void values_wide(const float* p, int64_t ldp, int64_t G, int64_t D, const void* const* v, int64_t n,
                 float* o) {
  for (int64_t j0 = 0; j0 < n; j0 += kValueRows) {
    const int64_t nj = n - j0 < kValueRows ? n - j0 : kValueRows;
    const void* const* next = v + j0 + nj;
    for (int64_t r = 0; r < G; r += kTileRows) {
      const float* pr = p + r * ldp + j0;
      float* orow = o + r * D;
      // the first tile of rows prefetches the next pass's cached rows
      const int64_t nn = r > 0 ? 0 : n - j0 - nj < nj ? n - j0 - nj : nj;
      kValueTiles<kBf16>[(G - r < kTileRows ? G - r : kTileRows) - 1](pr, ldp, D, v + j0, nj, next,
                                                                      nn, orow);
    }
  }
}

}  // namespace

void attn_scores_wide(const float* q, int64_t G, int64_t D, const void* const* k, DType kt,
                      int64_t n, float scale, float* s, int64_t lds) {
  if (kt == DType::F32)
    scores_wide<false>(q, G, D, k, n, scale, s, lds);
  else if (kt == DType::BF16)
    scores_wide<true>(q, G, D, k, n, scale, s, lds);
  else
    ref::attn_scores(q, G, D, k, kt, n, scale, s, lds);
}

void attn_values_wide(const float* p, int64_t ldp, int64_t G, int64_t D, const void* const* v,
                      DType vt, int64_t n, float* o) {
  if (vt == DType::F32)
    values_wide<false>(p, ldp, G, D, v, n, o);
  else if (vt == DType::BF16)
    values_wide<true>(p, ldp, G, D, v, n, o);
  else
    ref::attn_values(p, ldp, G, D, v, vt, n, o);
}

}  // namespace r1::kernels::avx512
