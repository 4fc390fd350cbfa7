// The 4-, 5- and 6-bit block GEMMs (kernels/cpu/gemm_kq.inc, gemm_r8.inc) with AVX-512 VNNI on
// 256-bit vectors (vpdpbusd; 32 vector registers allow more X rows per tile).
#include "kernels/cpu/avx512_intrin.h"

#include <cstring>
#include <type_traits>

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
#define R1_R8_MB 4
#include "kernels/cpu/gemm_r8.inc"
#undef R1_R8_MB

}  // namespace r1::kernels::avx512
