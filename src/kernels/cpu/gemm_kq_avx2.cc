// The 4-, 5- and 6-bit block GEMMs (kernels/cpu/gemm_kq.inc, gemm_r8.inc) with AVX2: vpmaddubsw +
// vpmaddwd for the int8 dot products.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/quant_pack.h"
#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx2 {

namespace {
inline __m256i kq_dot(__m256i a, __m256i b) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}
inline __m256i kq_dot_acc(__m256i acc, __m256i a, __m256i b) {
  return _mm256_add_epi32(acc, kq_dot(a, b));
}
}  // namespace

#define R1_KQ_MB 2
#include "kernels/cpu/gemm_kq.inc"
#undef R1_KQ_MB
#define R1_R8_MB 2
#define R1_R8_Q8_OFFSET 0
#include "kernels/cpu/gemm_r8.inc"
#undef R1_R8_MB
#undef R1_R8_Q8_OFFSET

}  // namespace r1::kernels::avx2
