// The 4-, 5- and 6-bit block GEMM (kernels/cpu/gemm_kq.inc) with AVX-512 VNNI on 256-bit vectors
// (vpdpbusd; 32 vector registers allow more X rows per tile).
#include "kernels/cpu/avx512_intrin.h"

#include <cstring>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx512 {

namespace {
inline __m256i kq_dot(__m256i a, __m256i b) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), a, b);
}
}  // namespace

#define R1_KQ_MB 4
#include "kernels/cpu/gemm_kq.inc"
#undef R1_KQ_MB

}  // namespace r1::kernels::avx512
