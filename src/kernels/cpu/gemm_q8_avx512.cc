// Q8_0 GEMM with AVX-512 VNNI (vpdpbusd on 256-bit vectors: a block of 32 weights is one ymm).
#include <immintrin.h>

#include <cstring>

#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avx512 {

#define R1_Q8_DOT(ax, sw) _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sw)
#define R1_Q8_MB 4
#define R1_Q8_PREFETCH 4096
#include "kernels/cpu/gemm_q8.inc"
#undef R1_Q8_DOT
#undef R1_Q8_MB
#undef R1_Q8_PREFETCH

}  // namespace r1::kernels::avx512
