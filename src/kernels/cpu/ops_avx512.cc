// AVX-512 versions of the element-wise and reduction kernels (everything but the GEMM).
// ODR rule for ISA files: only declarations are included besides <immintrin.h> (avx512_intrin.h);
// every helper lives in an anonymous namespace so no AVX-512 code can be picked for a scalar
// caller.
#include "kernels/cpu/avx512_intrin.h"

#include <cstdint>
#include <cstring>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/fp8_avx512.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::avx512 {

namespace {

__mmask16 tail_mask(int64_t r) {
  return static_cast<__mmask16>((1u << r) - 1u);
}  // r in [0,16]

// exp(x) for f32 lanes. Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, then the degree-6
// Taylor polynomial of e^r (truncation error <= |r|^7/7! * e^|r| ~ 1.7e-7 relative) and an exact
// scale by 2^n (vscalefps). Measured against std::exp: < 4e-7 relative on [-87, 88]
// (tests/kernels). x > 88.72 gives ~FLT_MAX or inf, x < -87.34 gives 0, NaN stays NaN.
__m512 exp_ps(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.33654f), hi = _mm512_set1_ps(88.72283f);
  const __mmask16 underflow = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_min_ps(hi, x);  // operand order keeps NaN
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);  // ln2 high part (exact n*hi)
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);      // ln2 - high part
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~underflow), _mm512_scalef_ps(p, n));
}

// 16 elements of src (f32, bf16, f16 or f8_e4m3) widened to f32; lanes outside mask are 0.
__m512 load_f32(const void* src, DType t, int64_t i, __mmask16 mask) {
  switch (t) {
    case DType::BF16: {
      __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(src) + i);
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case DType::F16:
      return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(src) + i));
    case DType::F8_E4M3:  // kernels/cpu/fp8_avx512.h
      return _mm512_mul_ps(fp8x16_times_2m8(static_cast<const uint8_t*>(src) + i, mask),
                           _mm512_set1_ps(256.0f));
    default:
      return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(src) + i);
  }
}

}  // namespace

float dot(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    __m512 r =
        _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
    _mm512_mask_storeu_ps(y + i, m, r);
  }
}

void rms_norm(const float* x, const void* w, DType wtype, float eps, float* y, int64_t n) {
  if (wtype != DType::F32 && wtype != DType::BF16 && wtype != DType::F16) {
    ref::rms_norm(x, w, wtype, eps, y, n);
    return;
  }
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
    acc0 = _mm512_fmadd_ps(a, a, acc0);
    acc1 = _mm512_fmadd_ps(b, b, acc1);
  }
  for (; i < n; i += 16) {
    __m512 a = _mm512_maskz_loadu_ps(tail_mask(n - i < 16 ? n - i : 16), x + i);
    acc0 = _mm512_fmadd_ps(a, a, acc0);
  }
  const float sum_sq = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
  const float scale = 1.0f / __builtin_sqrtf(sum_sq / static_cast<float>(n) + eps);
  const __m512 sv = _mm512_set1_ps(scale);
  for (i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    __m512 r =
        _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), sv), load_f32(w, wtype, i, m));
    _mm512_mask_storeu_ps(y + i, m, r);
  }
}

void silu_mul(const float* g, const float* u, float* y, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
    __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), gv));
    __m512 r = _mm512_div_ps(_mm512_mul_ps(gv, uv), _mm512_add_ps(one, e));
    _mm512_mask_storeu_ps(y + i, m, r);
  }
}

void silu_mul_grad(const float* g, const float* u, const float* dy, float* dg, bool dg_add,
                   float* du, bool du_add, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    const __m512 gv = _mm512_maskz_loadu_ps(m, g + i), d = _mm512_maskz_loadu_ps(m, dy + i);
    const __m512 s =
        _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), gv))));
    if (dg) {
      // dy u s (1 + g (1 - s))
      __m512 a = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_maskz_loadu_ps(m, u + i)), s);
      a = _mm512_mul_ps(a, _mm512_fmadd_ps(gv, _mm512_sub_ps(one, s), one));
      if (dg_add) a = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dg + i), a);
      _mm512_mask_storeu_ps(dg + i, m, a);
    }
    if (du) {
      __m512 b = _mm512_mul_ps(_mm512_mul_ps(d, gv), s);
      if (du_add) b = _mm512_add_ps(_mm512_maskz_loadu_ps(m, du + i), b);
      _mm512_mask_storeu_ps(du + i, m, b);
    }
  }
}

float exp_sum(float* x, float shift, int64_t n) {
  const __m512 sv = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    const __m512 e =
        _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sv)));
    sum = _mm512_add_ps(sum, e);
    _mm512_mask_storeu_ps(x + i, m, e);
  }
  return _mm512_reduce_add_ps(sum);
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  __m512 mx = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, x + i));
  }
  const __m512 inv = _mm512_set1_ps(1.0f / exp_sum(x, _mm512_reduce_max_ps(mx), n));
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv));
  }
}

void to_f32(const void* src, DType t, float* dst, int64_t n) {
  if (t != DType::F32 && t != DType::BF16 && t != DType::F16 && t != DType::F8_E4M3) {
    ref::to_f32(src, t, dst, n);
    return;
  }
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    _mm512_mask_storeu_ps(dst + i, m, load_f32(src, t, i, m));
  }
}

void add(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    _mm512_mask_storeu_ps(
        y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

namespace {
template <int S>
float sum_streams_t(const float* x, int64_t stride, int64_t n) {
  __m512 acc[S];
  for (int j = 0; j < S; ++j) acc[j] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < S; ++j)
      acc[j] = _mm512_add_ps(acc[j], _mm512_add_ps(_mm512_loadu_ps(x + j * stride + i),
                                                   _mm512_loadu_ps(x + j * stride + i + 16)));
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
    for (int j = 0; j < S; ++j)
      acc[j] = _mm512_add_ps(acc[j], _mm512_maskz_loadu_ps(m, x + j * stride + i));
  }
  for (int j = 1; j < S; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  return _mm512_reduce_add_ps(acc[0]);
}
}  // namespace

float sum_streams(const float* x, int64_t stride, int64_t n, int streams) {
  static constexpr float (*kBy[])(const float*, int64_t, int64_t) = {
      sum_streams_t<1>, sum_streams_t<2>, sum_streams_t<3>, sum_streams_t<4>,
      sum_streams_t<5>, sum_streams_t<6>, sum_streams_t<7>, sum_streams_t<8>};
  return kBy[streams - 1](x, stride, n);
}

namespace {

// Elements [i, i + 16) of a row of f32 or bf16 (widened) at base; lanes outside m are 0.
template <bool kBf16>
__m512 row16(const void* base, int64_t i, __mmask16 m) {
  if constexpr (kBf16) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + i);
  }
}

// Lane r of the result is the sum of r[r]'s 16 lanes: pairs of vectors are interleaved and added
// (lanes of one vector meet in ever fewer positions) instead of 16 separate reductions.
inline __attribute__((always_inline)) __m512 sum16(const __m512 r[16]) {
  __m512 u[8], w[4];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    u[i] = _mm512_add_ps(_mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]),
                         _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]));
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(u[2 * i]), b = _mm512_castps_pd(u[2 * i + 1]);
    w[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // Each 128-bit lane of w[i] now holds partial sums of rows 4i .. 4i + 3.
  const __m512 x01 =
      _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xdd));
  const __m512 x23 =
      _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x88), _mm512_shuffle_f32x4(w[2], w[3], 0xdd));
  return _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, 0x88), _mm512_shuffle_f32x4(x01, x23, 0xdd));
}

// The dot products of NG <= 4 heads with the 4 rows at r[0..3]: each loaded chunk of a row
// feeds NG products and each chunk of a head's query 4, and the 16 sums are reduced together
// (lanes 4g .. 4g + 3 hold head g's). The same chunk of the rows at pf[0, npf) is prefetched.
template <bool kBf16, int NG>
void scores_tile(const float* q, int64_t D, const void* const* r, const void* const* pf, int npf,
                 __m512 scale, float* s, int64_t lds) {
  constexpr int64_t kEs = kBf16 ? 2 : 4;
  __m512 acc[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16) {
    const __mmask16 m = tail_mask(D - d < 16 ? D - d : 16);
    for (int i = 0; i < npf; ++i)
      _mm_prefetch(static_cast<const char*>(pf[i]) + d * kEs, _MM_HINT_T0);
    const __m512 k0 = row16<kBf16>(r[0], d, m), k1 = row16<kBf16>(r[1], d, m);
    const __m512 k2 = row16<kBf16>(r[2], d, m), k3 = row16<kBf16>(r[3], d, m);
#pragma GCC unroll 4
    for (int g = 0; g < NG; ++g) {
      const __m512 qv = _mm512_maskz_loadu_ps(m, q + g * D + d);
      acc[4 * g] = _mm512_fmadd_ps(qv, k0, acc[4 * g]);
      acc[4 * g + 1] = _mm512_fmadd_ps(qv, k1, acc[4 * g + 1]);
      acc[4 * g + 2] = _mm512_fmadd_ps(qv, k2, acc[4 * g + 2]);
      acc[4 * g + 3] = _mm512_fmadd_ps(qv, k3, acc[4 * g + 3]);
    }
  }
  const __m512 sums = _mm512_mul_ps(sum16(acc), scale);
  _mm_storeu_ps(s, _mm512_castps512_ps128(sums));
  if (NG > 1) _mm_storeu_ps(s + lds, _mm512_extractf32x4_ps(sums, 1));
  if (NG > 2) _mm_storeu_ps(s + 2 * lds, _mm512_extractf32x4_ps(sums, 2));
  if (NG > 3) _mm_storeu_ps(s + 3 * lds, _mm512_extractf32x4_ps(sums, 3));
}

template <bool kBf16>
void scores(const float* q, int64_t G, int64_t D, const void* const* k, int64_t n, float scale,
            float* s, int64_t lds) {
  const __m512 sv = _mm512_set1_ps(scale);
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const void* const* r = k + j;
    const int64_t a = j + kAttnAhead;  // the first group prefetches rows a .. a + 3
    const int na = a + 4 <= n ? 4 : a < n ? static_cast<int>(n - a) : 0;
    for (int64_t g = 0; g < G; g += 4) {
      const void* const* pf = g == 0 && na > 0 ? k + a : nullptr;
      const int npf = pf ? na : 0;
      const float* qg = q + g * D;
      float* sg = s + g * lds + j;
      switch (G - g < 4 ? G - g : 4) {
        case 1:
          scores_tile<kBf16, 1>(qg, D, r, pf, npf, sv, sg, lds);
          break;
        case 2:
          scores_tile<kBf16, 2>(qg, D, r, pf, npf, sv, sg, lds);
          break;
        case 3:
          scores_tile<kBf16, 3>(qg, D, r, pf, npf, sv, sg, lds);
          break;
        default:
          scores_tile<kBf16, 4>(qg, D, r, pf, npf, sv, sg, lds);
      }
    }
  }
  for (; j < n; ++j)  // fewer than 4 rows left: one at a time
    for (int64_t g = 0; g < G; ++g) {
      __m512 acc = _mm512_setzero_ps();
      for (int64_t d = 0; d < D; d += 16) {
        const __mmask16 m = tail_mask(D - d < 16 ? D - d : 16);
        acc =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + g * D + d), row16<kBf16>(k[j], d, m), acc);
      }
      s[g * lds + j] = scale * _mm512_reduce_add_ps(acc);
    }
}

// NG heads' outputs, 64 columns at a time, held in registers over all n rows (attn.inc).
template <bool kBf16, int NG>
void values_heads(const float* p, int64_t ldp, int64_t D, const void* const* v, int64_t n,
                  int64_t ahead, float* o) {
  constexpr int64_t kEs = kBf16 ? 2 : 4;
  for (int64_t d = 0; d < D; d += 64) {
    __mmask16 m[4];
    for (int c = 0; c < 4; ++c) {
      const int64_t left = D - d - 16 * c;
      m[c] = tail_mask(left <= 0 ? 0 : left < 16 ? left : 16);
    }
    __m512 acc[NG][4];
    for (int g = 0; g < NG; ++g)
      for (int c = 0; c < 4; ++c) acc[g][c] = _mm512_maskz_loadu_ps(m[c], o + g * D + d + 16 * c);
    for (int64_t j = 0; j < n; ++j) {
      __m512 vv[4];
      if (j < ahead)
        for (int64_t b = d * kEs; b < (d + 64 < D ? d + 64 : D) * kEs; b += 64)
          _mm_prefetch(static_cast<const char*>(v[j + kAttnAhead]) + b, _MM_HINT_T0);
      for (int c = 0; c < 4; ++c) vv[c] = row16<kBf16>(v[j], d + 16 * c, m[c]);
      for (int g = 0; g < NG; ++g) {
        const __m512 pb = _mm512_set1_ps(p[g * ldp + j]);
        for (int c = 0; c < 4; ++c) acc[g][c] = _mm512_fmadd_ps(pb, vv[c], acc[g][c]);
      }
    }
    for (int g = 0; g < NG; ++g)
      for (int c = 0; c < 4; ++c) _mm512_mask_storeu_ps(o + g * D + d + 16 * c, m[c], acc[g][c]);
  }
}

}  // namespace

#define R1_ATTN_WIDE
#include "kernels/cpu/attn.inc"
#undef R1_ATTN_WIDE

}  // namespace r1::kernels::avx512
