// Q8_0 GEMM with AVX2 (vpmaddubsw + vpmaddwd; no int8 dot instruction).
#include <immintrin.h>

#include <cstring>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx2 {

#define R1_Q8_DOT(ax, sw) _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), _mm256_set1_epi16(1))
#define R1_Q8_MB 2
#define R1_Q8_PREFETCH 4096
#define R1_Q8_TILE q8_tile
#include "kernels/cpu/gemm_q8.inc"
#undef R1_Q8_DOT
#undef R1_Q8_MB
#undef R1_Q8_PREFETCH
#undef R1_Q8_TILE

}  // namespace r1::kernels::avx2
