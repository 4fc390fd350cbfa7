// The AVX2 table's int8 GEMMs with AVX-VNNI's vpdpbusd (VEX, 256-bit; gemm_int8_vnni256.inc),
// compiled for AVX2 and -mavxvnni and used only where cpuid reports AVX-VNNI.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/quant_pack.h"
#include "kernels/cpu/avx2_util.h"
#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels::avxvnni {

#define R1_VNNI_DPBUSD(acc, a, b) _mm256_dpbusd_avx_epi32(acc, a, b)
#include "kernels/cpu/gemm_int8_vnni256.inc"
#undef R1_VNNI_DPBUSD

}  // namespace r1::kernels::avxvnni
