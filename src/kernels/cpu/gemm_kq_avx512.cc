// The 4-, 5- and 6-bit block GEMMs (kernels/cpu/gemm_kq.inc, gemm_r8.inc) with AVX-512 VNNI on
// 256-bit vectors (vpdpbusd; 32 vector registers allow more X rows per tile).
#include "kernels/cpu/avx512_intrin.h"

#include <cstring>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/quant_pack.h"
#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx512 {

namespace {
inline __m256i kq_dot(__m256i a, __m256i b) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), a, b);
}
inline __m256i kq_dot_acc(__m256i acc, __m256i a, __m256i b) {
  return _mm256_dpbusd_epi32(acc, a, b);
}
}  // namespace

#define R1_KQ_MB 4
#include "kernels/cpu/gemm_kq.inc"
#undef R1_KQ_MB
namespace {
enum R8Fetch : int;
template <DType T>
bool r8_row512(const GemmParams& p, const uint8_t* w0, int64_t group, int64_t groups,
               const int8_t* xq, const float* xd, const void* xs, float* y, R8Fetch fetch);
}  // namespace

#define R1_R8_MB 4
#define R1_R8_Q8_OFFSET 1
#define R1_R8_ROW r8_row512
#define R1_R8_F32 q8_f32_path
#include "kernels/cpu/gemm_r8.inc"
#undef R1_R8_MB
#undef R1_R8_Q8_OFFSET
#undef R1_R8_ROW
#undef R1_R8_F32

namespace {

// Lane i of the result: X's int32 word (4 activations) k + i / 8, for the two 32-byte vectors of
// a packed chunk in one 512-bit register.
inline __m512i r8_words(__m512i xv, int k) {
  const __m512i idx =
      _mm512_srli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 3);
  return _mm512_permutexvar_epi32(_mm512_add_epi32(idx, _mm512_set1_epi32(k)), xv);
}

// One X row against S Q4_K_R8 groups (gstep bytes apart, nu super-blocks each) on 512-bit
// vectors: two of a chunk's 4 vectors per register (lanes 0-7 and 8-15 hold the same 8 rows'
// sums of different weights), so one vpdpbusd does the work of two, the X words for every group
// are permuted once per chunk, and the two halves are added once at the end. The high nibbles
// are multiplied in place (16 times their value, a mask instead of a shift and a mask), the low
// nibbles' sums scaled by 16 to match, and the scales divided by 16, so that a chunk's sum is still
// exact. The sub-block scales times d / 16 are made once per super-block, and the minimum terms
// there too: one product per 2 chunks, in accumulators of their own.
template <int S>
void q4k_row512(const uint8_t* g, int64_t gstep, int64_t nu, const int8_t* xq, const float* xd,
                const float* sx, float* y, int64_t ystep, R8Fetch fetch) {
  constexpr int64_t UB = packed_unit_bytes(DType::Q4_K_R8);
  const __m512i low4 = _mm512_set1_epi8(0x0f), zero = _mm512_setzero_si512();
  const __m256 sixteenth = _mm256_set1_ps(1.0f / 16);
  // Lanes 0-7 take element 2p of 8, lanes 8-15 element 2p + 1 (p = 0).
  const __m512i pair = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  __m512 acc[S], mins[S];
#pragma GCC unroll 4
  for (int i = 0; i < S; ++i) acc[i] = mins[i] = _mm512_setzero_ps();
  for (int64_t s = 0; s < nu; ++s) {
    const uint8_t* u[S];
    alignas(64) float f[S][8][8];  // chunk c row r's scale times d / 16
    {
      // X's minimum terms dx * sum(qx) of chunks 2p | 2p + 1, each over 8 lanes
      const __m512 sx8 = _mm512_castps256_ps512(_mm256_loadu_ps(sx + 8 * s));
      __m512 sxp[4];
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p)
        sxp[p] = _mm512_permutexvar_ps(_mm512_add_epi32(pair, _mm512_set1_epi32(2 * p)), sx8);
#pragma GCC unroll 4
      for (int i = 0; i < S; ++i) {
        u[i] = g + i * gstep + s * UB;
        r8_prefetch(u[i] + kR8Ahead * UB, UB, fetch);
        alignas(32) uint8_t b[128];  // the scales and minimums as bytes
        avx2::q4k_r8_scales(u[i], b, b + 64);
        const __m512 d = _mm512_broadcast_f32x8(_mm256_mul_ps(r8_f16x8(u[i]), sixteenth));
        __m512 mn = _mm512_setzero_ps();
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
          auto widen = [&](const uint8_t* at) {
            return _mm512_cvtepi32_ps(
                _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(at))));
          };
          _mm512_store_ps(f[i][2 * p], _mm512_mul_ps(widen(b + 16 * p), d));
          mn = _mm512_fmadd_ps(widen(b + 64 + 16 * p), sxp[p], mn);
        }
        mins[i] = _mm512_fmadd_ps(mn, _mm512_broadcast_f32x8(r8_f16x8(u[i] + 16)), mins[i]);
      }
    }
    for (int c = 0; c < 8; ++c) {
      const int64_t xc = s * 8 + c;
      const __m512i xv = _mm512_castsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * xc)));
      // low nibbles of vectors 0 | 1 and 2 | 3: weights 0-7 and 8-15; high nibbles 16-31
      const __m512i x01 = r8_words(xv, 0), x23 = r8_words(xv, 2);
      const __m512i x45 = r8_words(xv, 4), x67 = r8_words(xv, 6);
      const __m512 dx = _mm512_set1_ps(xd[xc]);
#pragma GCC unroll 4
      for (int i = 0; i < S; ++i) {
        const uint8_t* q = u[i] + 128 + 128 * c;
        const __m512i v01 = _mm512_loadu_si512(q), v23 = _mm512_loadu_si512(q + 64);
        const __m512i lo =
            _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, _mm512_and_si512(v01, low4), x01),
                                _mm512_and_si512(v23, low4), x23);
        const __m512i sum = _mm512_dpbusd_epi32(
            _mm512_dpbusd_epi32(_mm512_slli_epi32(lo, 4), _mm512_andnot_si512(low4, v01), x45),
            _mm512_andnot_si512(low4, v23), x67);
        const __m512 sc = _mm512_broadcast_f32x8(_mm256_load_ps(f[i][c]));
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(sc, dx), acc[i]);
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < S; ++i) {
    const __m512 v = _mm512_sub_ps(acc[i], mins[i]);
    _mm256_storeu_ps(
        y + i * ystep,
        _mm256_add_ps(_mm512_castps512_ps256(v),
                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
  }
}

// gemm_r8.inc's decode hook: one X row on 512-bit vectors where a kernel above does the type.
template <DType T>
bool r8_row512(const GemmParams& p, const uint8_t* w0, int64_t group, int64_t groups,
               const int8_t* xq, const float* xd, const void* xs, float* y, R8Fetch fetch) {
  if constexpr (T != DType::Q4_K_R8) {
    return false;
  } else {
    const int64_t nu = p.K / 256, q = groups / 4;
    const float* sx = static_cast<const float*>(xs);
    for (int64_t t = 0; t < q; ++t)
      q4k_row512<4>(w0 + t * group, q * group, nu, xq, xd, sx, y + 8 * t, 8 * q, fetch);
    for (int64_t t = 4 * q; t < groups; ++t)
      q4k_row512<1>(w0 + t * group, 0, nu, xq, xd, sx, y + 8 * t, 0, fetch);
    return true;
  }
}

}  // namespace

}  // namespace r1::kernels::avx512
