// gemm_int8_avxvnni.cc's code with AVX-512 VNNI's EVEX vpdpbusd on 256-bit vectors (the same
// operation as AVX-VNNI's VEX form), so that machines with AVX-512 and without AVX-VNNI run and
// test the AVX-VNNI kernels (tests, kernels_bench --avx2-int8 vnni256).
#include "kernels/cpu/avx512_intrin.h"

#include <cstring>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/quant_pack.h"
#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avxvnni_evex {

#define R1_VNNI_DPBUSD(acc, a, b) _mm256_dpbusd_epi32(acc, a, b)
#include "kernels/cpu/gemm_int8_vnni256.inc"
#undef R1_VNNI_DPBUSD

}  // namespace r1::kernels::avxvnni_evex
