// Block-quantized W dequantized into the bf16 panels of the AVX-512 packed GEMM (gemm_avx512.cc),
// for bf16_dot (kernels.h): each weight f * q - mn in f32, rounded to bf16 (nearest even).
//
// The packed layouts (core/quant_pack.h) are read in their own order: one 32-byte vector holds 4
// consecutive weights of each of a group's 8 rows, which widen to two vectors of 16 f32 (rows
// 0-3 and 4-7, 4 weights each), are scaled by their rows' sub-block scales (8 values spread over
// 4 lanes each), rounded into 16 bf16 pairs (row r's pairs of weights 0-1 and 2-3 side by side),
// and permuted so that each half is one k step of the 8 rows: two 32-byte stores into the panel.
// Q8_0_R8 also goes to f32 panels (pack_packed_f32: d * q, exact), for CPUs that multiply Q8_0 in
// f32. (Q8_0 and K-quant rows not packed go through gemm_avx512.cc's pack_w.)
#include "kernels/cpu/avx512_intrin.h"

#include "core/error.h"
#include "core/quant_pack.h"
#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx512 {

namespace {

constexpr int64_t kCols = kPanelCols;

// Lane 4r + i of the result is lane r (r < 4) or 4 + r (kHigh) of the 8 values v.
template <bool kHigh>
__m512 spread4(__m256 v) {
  const __m512i idx = kHigh ? _mm512_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7)
                            : _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  return _mm512_permutexvar_ps(idx, _mm512_castps256_ps512(v));
}

__m256 f16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
__m256 u8x8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
__m256 i8x8(const uint8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// The 32 bytes at p as two vectors of int32: bytes 0-15 (rows 0-3) and 16-31 (rows 4-7),
// unsigned, or signed (sbytes32).
struct Bytes32 {
  __m512i lo, hi;
};
Bytes32 bytes32(const uint8_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return {_mm512_cvtepu8_epi32(_mm256_castsi256_si128(v)),
          _mm512_cvtepu8_epi32(_mm256_extracti128_si256(v, 1))};
}
Bytes32 sbytes32(const uint8_t* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return {_mm512_cvtepi8_epi32(_mm256_castsi256_si128(v)),
          _mm512_cvtepi8_epi32(_mm256_extracti128_si256(v, 1))};
}

// fn(b, k, lo, hi) for each 32-byte vector k of block b of a Q8_0_R8 unit at u: its weights
// 4k..4k+3 as d * q in f32, of rows 0-3 (lo, lane 4r + i) and rows 4-7 (hi).
template <typename Fn>
void q8_unit_values(const uint8_t* u, Fn fn) {
  for (int b = 0; b < 2; ++b) {
    const __m256 d = f16x8(u + 16 * b);
    const __m512 fa = spread4<false>(d), fb = spread4<true>(d);
    for (int k = 0; k < 8; ++k) {
      const Bytes32 e = sbytes32(u + 32 + 256 * b + 32 * k);
      fn(b, k, _mm512_mul_ps(_mm512_cvtepi32_ps(e.lo), fa),
         _mm512_mul_ps(_mm512_cvtepi32_ps(e.hi), fb));
    }
  }
}

// Rows 0-3 (a) and 4-7 (b), 4 weights each, rounded to bf16 pairs: step s of the 8 rows at
// panel + s * kCols, step s + 1 after it.
void store_pairs(__m512 a, __m512 b, uint32_t* panel, int64_t s) {
  const __m512i bf = (__m512i)_mm512_cvtne2ps_pbh(b, a);
  const __m512i v = _mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15), bf);
  _mm256_store_si256(reinterpret_cast<__m256i*>(panel + s * kCols), _mm512_castsi512_si256(v));
  _mm256_store_si256(reinterpret_cast<__m256i*>(panel + (s + 1) * kCols),
                     _mm512_extracti64x4_epi64(v, 1));
}

__m512 to_ps(__m512i v) {
  return _mm512_cvtepi32_ps(v);
}

// One unit (super-block, or 2 blocks of 32) of one group at u into the panel columns of the
// group, from k step s0 (the unit's first weight / 2).
template <DType T>
void unit_to_panel(const uint8_t* u, uint32_t* panel, int64_t s0) {
  const __m512i low4 = _mm512_set1_epi32(15);
  if constexpr (T == DType::Q4_K_R8) {
    const __m256 d = f16x8(u), dmin = f16x8(u + 16);
    alignas(32) uint8_t scales[128];
    avx2::q4k_r8_scales(u, scales, scales + 64);
    for (int c = 0; c < 8; ++c) {
      const __m256 f = _mm256_mul_ps(d, u8x8(scales + 8 * c));
      const __m256 mn = _mm256_mul_ps(dmin, u8x8(scales + 64 + 8 * c));
      const __m512 fa = spread4<false>(f), fb = spread4<true>(f);
      const __m512 ma = spread4<false>(mn), mb = spread4<true>(mn);
      const uint8_t* q = u + 128 + 128 * c;
      for (int k = 0; k < 4; ++k) {
        const Bytes32 e = bytes32(q + 32 * k);
        const int64_t s = s0 + 16 * c + 2 * k;
        store_pairs(_mm512_fmsub_ps(to_ps(_mm512_and_si512(e.lo, low4)), fa, ma),
                    _mm512_fmsub_ps(to_ps(_mm512_and_si512(e.hi, low4)), fb, mb), panel, s);
        store_pairs(_mm512_fmsub_ps(to_ps(_mm512_srli_epi32(e.lo, 4)), fa, ma),
                    _mm512_fmsub_ps(to_ps(_mm512_srli_epi32(e.hi, 4)), fb, mb), panel, s + 8);
      }
    }
  } else if constexpr (T == DType::Q6_K_R8) {
    const __m256 d = f16x8(u);
    const __m512i bias = _mm512_set1_epi32(32), two = _mm512_set1_epi32(3);
    for (int c = 0; c < 8; ++c) {
      const __m256 f0 = _mm256_mul_ps(d, i8x8(u + 16 + 16 * c));
      const __m256 f1 = _mm256_mul_ps(d, i8x8(u + 24 + 16 * c));
      const __m512 f0a = spread4<false>(f0), f0b = spread4<true>(f0);
      const __m512 f1a = spread4<false>(f1), f1b = spread4<true>(f1);
      const uint8_t* q = u + 160 + 192 * c;
      const Bytes32 h0 = bytes32(q + 128), h1 = bytes32(q + 160);
      for (int k = 0; k < 4; ++k) {
        const Bytes32 e = bytes32(q + 32 * k);
        auto value = [&](__m512i nib, __m512i h) {
          const __m512i top = _mm512_and_si512(_mm512_srli_epi32(h, 2 * k), two);
          return to_ps(_mm512_sub_epi32(_mm512_or_si512(nib, _mm512_slli_epi32(top, 4)), bias));
        };
        const int64_t s = s0 + 16 * c + 2 * k;
        store_pairs(_mm512_mul_ps(value(_mm512_and_si512(e.lo, low4), h0.lo), f0a),
                    _mm512_mul_ps(value(_mm512_and_si512(e.hi, low4), h0.hi), f0b), panel, s);
        store_pairs(_mm512_mul_ps(value(_mm512_srli_epi32(e.lo, 4), h1.lo), f1a),
                    _mm512_mul_ps(value(_mm512_srli_epi32(e.hi, 4), h1.hi), f1b), panel, s + 8);
      }
    }
  } else if constexpr (T == DType::Q8_0_R8) {  // two blocks of 32, value q d
    q8_unit_values(u, [&](int b, int k, __m512 lo, __m512 hi) {
      store_pairs(lo, hi, panel, s0 + 16 * b + 2 * k);
    });
  } else {  // Q4_0_R8 / Q5_0_R8: two blocks of 32, value (q - 8) d / (q - 16) d
    constexpr bool kQ5 = T == DType::Q5_0_R8;
    const __m512i bias = _mm512_set1_epi32(kQ5 ? 16 : 8), one = _mm512_set1_epi32(1);
    for (int b = 0; b < 2; ++b) {
      const __m256 d = f16x8(u + 16 * b);
      const __m512 fa = spread4<false>(d), fb = spread4<true>(d);
      const uint8_t* q = u + 32 + 128 * b;
      Bytes32 h = {};
      if constexpr (kQ5) h = bytes32(u + 288 + 32 * b);
      for (int k = 0; k < 4; ++k) {
        const Bytes32 e = bytes32(q + 32 * k);
        auto value = [&](__m512i nib, __m512i hb, int bit) {
          if constexpr (kQ5)
            nib = _mm512_or_si512(
                nib, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, bit), one), 4));
          return to_ps(_mm512_sub_epi32(nib, bias));
        };
        const int64_t s = s0 + 16 * b + 2 * k;
        store_pairs(_mm512_mul_ps(value(_mm512_and_si512(e.lo, low4), h.lo, k), fa),
                    _mm512_mul_ps(value(_mm512_and_si512(e.hi, low4), h.hi, k), fb), panel, s);
        store_pairs(_mm512_mul_ps(value(_mm512_srli_epi32(e.lo, 4), h.lo, 4 + k), fa),
                    _mm512_mul_ps(value(_mm512_srli_epi32(e.hi, 4), h.hi, 4 + k), fb), panel,
                    s + 8);
      }
    }
  }
}

// One Q8_0_R8 unit at u into the f32 panel columns of its group, from k step k0 (its first
// weight): d * q, exact. Vector k of block b holds weights 4k..4k+3 of each row (lane 4r + i of
// rows 0-3 and of rows 4-7); each weight's 8 rows are one store.
void q8_unit_to_f32(const uint8_t* u, float* panel, int64_t k0) {
  const __m512i w01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i w23 = _mm512_add_epi32(w01, _mm512_set1_epi32(2));
  q8_unit_values(u, [&](int b, int k, __m512 a, __m512 c) {
    const __m512 v01 = _mm512_permutex2var_ps(a, w01, c), v23 = _mm512_permutex2var_ps(a, w23, c);
    float* at = panel + (k0 + 32 * b + 4 * k) * kCols;
    _mm256_store_ps(at, _mm512_castps512_ps256(v01));
    _mm256_store_ps(at + kCols, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v01), 1)));
    _mm256_store_ps(at + 2 * kCols, _mm512_castps512_ps256(v23));
    _mm256_store_ps(at + 3 * kCols,
                    _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v23), 1)));
  });
}

// Groups of 8 rows; the columns of the last panel past `rows` are zero. kF32: f32 panels (kc
// steps of one weight; Q8_0_R8 only), else bf16 pairs (kc / 2 steps).
template <DType T, bool kF32 = false>
void pack_groups(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                 uint32_t* dst) {
  const int64_t steps = kF32 ? kc : kc / 2, unit = packed_unit(T),
                unit_bytes = packed_unit_bytes(T);
  const int64_t group = 8 * static_cast<int64_t>(dtype_bytes(T, p.ldw));
  const uint8_t* w = static_cast<const uint8_t*>(p.w);
  for (int64_t g = 0; g < (rows + kCols - 1) / kCols * kCols; g += 8) {
    uint32_t* panel = dst + (g / kCols) * steps * kCols + g % kCols;
    if (g >= rows) {
      for (int64_t s = 0; s < steps; ++s)
        _mm256_store_si256(reinterpret_cast<__m256i*>(panel + s * kCols), _mm256_setzero_si256());
      continue;
    }
    const uint8_t* grp = w + ((n0 + g) / 8) * group;
    for (int64_t k = k0; k < k0 + kc; k += unit) {
      if constexpr (kF32)
        q8_unit_to_f32(grp + (k / unit) * unit_bytes, reinterpret_cast<float*>(panel), k - k0);
      else
        unit_to_panel<T>(grp + (k / unit) * unit_bytes, panel, (k - k0) / 2);
    }
  }
}

}  // namespace

void pack_packed_bf16(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                      uint32_t* dst) {
  switch (p.wtype) {
    case DType::Q4_K_R8:
      return pack_groups<DType::Q4_K_R8>(p, n0, rows, k0, kc, dst);
    case DType::Q6_K_R8:
      return pack_groups<DType::Q6_K_R8>(p, n0, rows, k0, kc, dst);
    case DType::Q4_0_R8:
      return pack_groups<DType::Q4_0_R8>(p, n0, rows, k0, kc, dst);
    case DType::Q5_0_R8:
      return pack_groups<DType::Q5_0_R8>(p, n0, rows, k0, kc, dst);
    case DType::Q8_0_R8:
      return pack_groups<DType::Q8_0_R8>(p, n0, rows, k0, kc, dst);
    default:
      fail_internal("pack_packed_bf16: ", dtype_name(p.wtype));
  }
}

void pack_packed_f32(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                     uint32_t* dst) {
  if (p.wtype != DType::Q8_0_R8) fail_internal("pack_packed_f32: ", dtype_name(p.wtype));
  pack_groups<DType::Q8_0_R8, true>(p, n0, rows, k0, kc, dst);
}

}  // namespace r1::kernels::avx512
