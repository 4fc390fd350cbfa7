// AVX2 + FMA + F16C versions of the element-wise and reduction kernels (everything but the GEMM).
// ODR rule for ISA files: only declarations are included besides <immintrin.h>; every helper
// lives in an anonymous namespace so no AVX2 code can be picked for a scalar caller.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::avx2 {

namespace {

// Partial vectors go through an 8-lane stack buffer (AVX2 has no masked loads for every size).
__m256 load_part(const float* p, int64_t count) {
  alignas(32) float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(tmp, p, static_cast<size_t>(count) * 4);
  return _mm256_load_ps(tmp);
}
void store_part(float* p, __m256 v, int64_t count) {
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  std::memcpy(p, tmp, static_cast<size_t>(count) * 4);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// exp(x) for f32 lanes; same method and error as the AVX-512 version (kernels/cpu/ops_avx512.cc:
// degree-6 Taylor after Cody-Waite reduction, < 4e-7 relative), with 2^n built in the exponent
// field, so the input is clamped to <= 88.376 (n <= 127) and results below -87.34 are 0.
__m256 exp_ps(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_set1_ps(88.3762626647949f), x);  // operand order keeps NaN
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 result = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(underflow, result);
}

// 8 elements of src (f32, bf16, f16 or f8_e4m3) widened to f32.
__m256 load8_f32(const void* src, DType t, int64_t i) {
  switch (t) {
    case DType::BF16: {
      __m128i h =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(src) + i));
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    case DType::F16:
      return _mm256_cvtph_ps(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(src) + i)));
    case DType::F8_E4M3: {
      // See the AVX-512 version: the f16 of the value times 2^-8, widened, times 2^8.
      int64_t bytes;
      std::memcpy(&bytes, static_cast<const uint8_t*>(src) + i, 8);
      const __m128i u = _mm_slli_epi16(_mm_cvtepi8_epi16(_mm_cvtsi64_si128(bytes)), 7);
      const __m128i mag = _mm_set1_epi16(0x3f80);
      const __m128i h =
          _mm_blendv_epi8(_mm_and_si128(u, _mm_set1_epi16(static_cast<int16_t>(0xbfff))),
                          _mm_set1_epi16(0x7e00), _mm_cmpeq_epi16(_mm_and_si128(u, mag), mag));
      return _mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(256.0f));
    }
    default:
      return _mm256_loadu_ps(static_cast<const float*>(src) + i);
  }
}

// The same for count < 8 elements (the rest are 0).
__m256 load_part_f32(const void* src, DType t, int64_t i, int64_t count) {
  alignas(32) uint8_t tmp[32] = {};
  const size_t es = t == DType::F32 ? 4 : (t == DType::F8_E4M3 ? 1 : 2);
  std::memcpy(tmp, static_cast<const uint8_t*>(src) + i * static_cast<int64_t>(es),
              static_cast<size_t>(count) * es);
  return load8_f32(tmp, t, 0);
}

}  // namespace

float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  if (i < n) acc1 = _mm256_fmadd_ps(load_part(a + i, n - i), load_part(b + i, n - i), acc1);
  return hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  if (i < n)
    store_part(y + i, _mm256_fmadd_ps(av, load_part(x + i, n - i), load_part(y + i, n - i)), n - i);
}

void rms_norm(const float* x, const void* w, DType wtype, float eps, float* y, int64_t n) {
  if (wtype != DType::F32 && wtype != DType::BF16 && wtype != DType::F16) {
    ref::rms_norm(x, w, wtype, eps, y, n);
    return;
  }
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    acc0 = _mm256_fmadd_ps(a, a, acc0);
    acc1 = _mm256_fmadd_ps(b, b, acc1);
  }
  for (; i < n; i += 8) {
    __m256 a = n - i >= 8 ? _mm256_loadu_ps(x + i) : load_part(x + i, n - i);
    acc0 = _mm256_fmadd_ps(a, a, acc0);
  }
  const float sum_sq = hsum(_mm256_add_ps(acc0, acc1));
  const __m256 sv = _mm256_set1_ps(1.0f / __builtin_sqrtf(sum_sq / static_cast<float>(n) + eps));
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), load8_f32(w, wtype, i)));
  if (i < n)
    store_part(y + i,
               _mm256_mul_ps(_mm256_mul_ps(load_part(x + i, n - i), sv),
                             load_part_f32(w, wtype, i, n - i)),
               n - i);
}

namespace {
__m256 silu_mul8(__m256 g, __m256 u) {
  __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
  return _mm256_div_ps(_mm256_mul_ps(g, u), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}
}  // namespace

void silu_mul(const float* g, const float* u, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, silu_mul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
  if (i < n) store_part(y + i, silu_mul8(load_part(g + i, n - i), load_part(u + i, n - i)), n - i);
}

void silu_mul_grad(const float* g, const float* u, const float* dy, float* dg, bool dg_add,
                   float* du, bool du_add, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 8) {
    const int64_t c = n - i < 8 ? n - i : 8;
    const __m256 gv = load_part(g + i, c), d = load_part(dy + i, c);
    const __m256 s =
        _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), gv))));
    if (dg) {
      // dy u s (1 + g (1 - s))
      __m256 a = _mm256_mul_ps(_mm256_mul_ps(d, load_part(u + i, c)), s);
      a = _mm256_mul_ps(a, _mm256_fmadd_ps(gv, _mm256_sub_ps(one, s), one));
      store_part(dg + i, dg_add ? _mm256_add_ps(load_part(dg + i, c), a) : a, c);
    }
    if (du) {
      const __m256 b = _mm256_mul_ps(_mm256_mul_ps(d, gv), s);
      store_part(du + i, du_add ? _mm256_add_ps(load_part(du + i, c), b) : b, c);
    }
  }
}

float exp_sum(float* x, float shift, int64_t n) {
  const __m256 sv = _mm256_set1_ps(shift);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), sv));
    sum = _mm256_add_ps(sum, e);
    _mm256_storeu_ps(x + i, e);
  }
  float total = hsum(sum);
  if (i < n) {
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, exp_ps(_mm256_sub_ps(load_part(x + i, n - i), sv)));
    for (int64_t j = 0; j < n - i; ++j) total += tmp[j];
    std::memcpy(x + i, tmp, static_cast<size_t>(n - i) * 4);
  }
  return total;
}

// AVX2 kernels have no bf16 dot products and ignore GemmParams::xb: the reference will do.
void x_to_bf16(const float* x, int64_t ldx, bool x_trans, int64_t M, int64_t K, uint16_t* xb,
               int64_t ldb) {
  ref::x_to_bf16(x, ldx, x_trans, M, K, xb, ldb);
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  __m256 mx = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
  float max = hmax(mx);
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  const float total = exp_sum(x, max, n);
  const __m256 inv = _mm256_set1_ps(1.0f / total);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  for (; i < n; ++i) x[i] *= 1.0f / total;
}

void to_f32(const void* src, DType t, float* dst, int64_t n) {
  if (t != DType::F32 && t != DType::BF16 && t != DType::F16 && t != DType::F8_E4M3) {
    ref::to_f32(src, t, dst, n);
    return;
  }
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8_f32(src, t, i));
  if (i < n) store_part(dst + i, load_part_f32(src, t, i, n - i), n - i);
}

void add(const float* a, const float* b, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n)
    store_part(y + i, _mm256_add_ps(load_part(a + i, n - i), load_part(b + i, n - i)), n - i);
}

namespace {
template <int S>
float sum_streams_t(const float* x, int64_t stride, int64_t n) {
  __m256 acc[S];
  for (int j = 0; j < S; ++j) acc[j] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < S; ++j)
      acc[j] = _mm256_add_ps(acc[j], _mm256_add_ps(_mm256_loadu_ps(x + j * stride + i),
                                                   _mm256_loadu_ps(x + j * stride + i + 8)));
  for (; i < n; i += 8)
    for (int j = 0; j < S; ++j)
      acc[j] = _mm256_add_ps(acc[j], load_part(x + j * stride + i, n - i < 8 ? n - i : 8));
  for (int j = 1; j < S; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  return hsum(acc[0]);
}
}  // namespace

float sum_streams(const float* x, int64_t stride, int64_t n, int streams) {
  static constexpr float (*kBy[])(const float*, int64_t, int64_t) = {
      sum_streams_t<1>, sum_streams_t<2>, sum_streams_t<3>, sum_streams_t<4>,
      sum_streams_t<5>, sum_streams_t<6>, sum_streams_t<7>, sum_streams_t<8>};
  return kBy[streams - 1](x, stride, n);
}

namespace {

// count (<= 8) elements [i, i + count) of a row of f32 or bf16 (widened); lanes from count on 0.
template <bool kBf16>
__m256 row8(const void* base, int64_t i, int64_t count) {
  const DType t = kBf16 ? DType::BF16 : DType::F32;
  if (count < 8) return count <= 0 ? _mm256_setzero_ps() : load_part_f32(base, t, i, count);
  if constexpr (kBf16) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  }
}

// Lane r of the result is the sum of r[r]'s 8 lanes (the AVX-512 file's sum16, 8 wide).
__m256 sum8(const __m256 r[8]) {
  __m256 u[4], w[2];
  for (int i = 0; i < 4; ++i)
    u[i] = _mm256_add_ps(_mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]),
                         _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]));
  for (int i = 0; i < 2; ++i) {
    const __m256d a = _mm256_castps_pd(u[2 * i]), b = _mm256_castps_pd(u[2 * i + 1]);
    w[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(a, b)),
                         _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)));
  }
  return _mm256_add_ps(_mm256_permute2f128_ps(w[0], w[1], 0x20),
                       _mm256_permute2f128_ps(w[0], w[1], 0x31));
}

// The dot products of NG <= 2 heads with the 4 rows at r[0..3]: each loaded chunk of a row feeds
// NG products and each query chunk 4; the 8 sums are reduced together (lanes 4g .. 4g + 3 hold
// head g's). The same chunk of the rows at pf[0, npf) is prefetched.
template <bool kBf16, int NG>
void scores_tile(const float* q, int64_t D, const void* const* r, const void* const* pf, int npf,
                 __m256 scale, float* s, int64_t lds) {
  constexpr int64_t kEs = kBf16 ? 2 : 4;
  __m256 acc[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
  for (int64_t d = 0; d < D; d += 8) {
    const int64_t count = D - d < 8 ? D - d : 8;
    for (int i = 0; i < npf; ++i)
      _mm_prefetch(static_cast<const char*>(pf[i]) + d * kEs, _MM_HINT_T0);
    const __m256 k0 = row8<kBf16>(r[0], d, count), k1 = row8<kBf16>(r[1], d, count);
    const __m256 k2 = row8<kBf16>(r[2], d, count), k3 = row8<kBf16>(r[3], d, count);
#pragma GCC unroll 2
    for (int g = 0; g < NG; ++g) {
      const __m256 qv = row8<false>(q + g * D, d, count);
      acc[4 * g] = _mm256_fmadd_ps(qv, k0, acc[4 * g]);
      acc[4 * g + 1] = _mm256_fmadd_ps(qv, k1, acc[4 * g + 1]);
      acc[4 * g + 2] = _mm256_fmadd_ps(qv, k2, acc[4 * g + 2]);
      acc[4 * g + 3] = _mm256_fmadd_ps(qv, k3, acc[4 * g + 3]);
    }
  }
  const __m256 sums = _mm256_mul_ps(sum8(acc), scale);
  _mm_storeu_ps(s, _mm256_castps256_ps128(sums));
  if (NG > 1) _mm_storeu_ps(s + lds, _mm256_extractf128_ps(sums, 1));
}

template <bool kBf16>
void scores(const float* q, int64_t G, int64_t D, const void* const* k, int64_t n, float scale,
            float* s, int64_t lds) {
  const __m256 sv = _mm256_set1_ps(scale);
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const int64_t a = j + kAttnAhead;  // the first pair of heads prefetches rows a .. a + 3
    const int na = a + 4 <= n ? 4 : a < n ? static_cast<int>(n - a) : 0;
    for (int64_t g = 0; g < G; g += 2) {
      const void* const* pf = g == 0 && na > 0 ? k + a : nullptr;
      const int npf = pf ? na : 0;
      if (G - g >= 2)
        scores_tile<kBf16, 2>(q + g * D, D, k + j, pf, npf, sv, s + g * lds + j, lds);
      else
        scores_tile<kBf16, 1>(q + g * D, D, k + j, pf, npf, sv, s + g * lds + j, lds);
    }
  }
  for (; j < n; ++j)  // fewer than 4 rows left: one at a time
    for (int64_t g = 0; g < G; ++g) {
      __m256 acc = _mm256_setzero_ps();
      for (int64_t d = 0; d < D; d += 8) {
        const int64_t count = D - d < 8 ? D - d : 8;
        acc = _mm256_fmadd_ps(row8<false>(q + g * D, d, count), row8<kBf16>(k[j], d, count), acc);
      }
      s[g * lds + j] = scale * hsum(acc);
    }
}

// NG heads' outputs, 16 columns at a time, held in registers over all n rows (attn.inc).
template <bool kBf16, int NG>
void values_heads(const float* p, int64_t ldp, int64_t D, const void* const* v, int64_t n,
                  int64_t ahead, float* o) {
  constexpr int64_t kEs = kBf16 ? 2 : 4;
  for (int64_t d = 0; d < D; d += 16) {
    const int64_t c0 = D - d < 8 ? D - d : 8, c1 = D - d - 8 < 0   ? 0
                                                   : D - d - 8 < 8 ? D - d - 8
                                                                   : 8;
    __m256 acc[NG][2];
    for (int g = 0; g < NG; ++g) {
      acc[g][0] = row8<false>(o + g * D, d, c0);
      acc[g][1] = row8<false>(o + g * D, d + 8, c1);
    }
    for (int64_t j = 0; j < n; ++j) {
      if (j < ahead)
        _mm_prefetch(static_cast<const char*>(v[j + kAttnAhead]) + d * kEs, _MM_HINT_T0);
      const __m256 v0 = row8<kBf16>(v[j], d, c0), v1 = row8<kBf16>(v[j], d + 8, c1);
      for (int g = 0; g < NG; ++g) {
        const __m256 pb = _mm256_set1_ps(p[g * ldp + j]);
        acc[g][0] = _mm256_fmadd_ps(pb, v0, acc[g][0]);
        acc[g][1] = _mm256_fmadd_ps(pb, v1, acc[g][1]);
      }
    }
    for (int g = 0; g < NG; ++g) {
      store_part(o + g * D + d, acc[g][0], c0);
      if (c1 > 0) store_part(o + g * D + d + 8, acc[g][1], c1);
    }
  }
}

}  // namespace

#include "kernels/cpu/attn.inc"

}  // namespace r1::kernels::avx2
