// Internals of the ISA choice, exposed for tests.
#pragma once

#include "kernels/kernels.h"

namespace r1::kernels {

// The best ISA of this CPU, capped by `cap` (the value of R1_ISA: nullptr or "" for no cap,
// otherwise scalar|avx2|avx512). An unknown value is a Usage error naming it.
Isa select_isa(const char* cap);

// Which int8 dot products the AVX2 table's quantized GEMMs (Q8_0, the 4-6-bit types, the packed
// layouts) use: vpmaddubsw + vpmaddwd (MaddUbs, any AVX2 CPU), AVX-VNNI's vpdpbusd (AvxVnni, the
// default where cpuid reports it: Intel since Alder Lake, AMD since Zen 5), or the same code with
// AVX-512 VNNI's EVEX vpdpbusd (Vnni256Evex: the AVX-VNNI kernels run on AVX-512 CPUs without
// AVX-VNNI, for tests and kernels_bench). The environment variable R1_AVX2_INT8 (maddubs, avxvnni
// or vnni256; read once, with the kernels) overrides the CPU's default: a value unknown or beyond
// this CPU is a Usage error naming it. set_avx2_int8 overrides both for the whole process (a
// variant the CPU lacks is an internal error); not while a GEMM runs.
enum class Avx2Int8 { MaddUbs, AvxVnni, Vnni256Evex };
inline constexpr Avx2Int8 kAvx2Int8Variants[] = {Avx2Int8::MaddUbs, Avx2Int8::AvxVnni,
                                                 Avx2Int8::Vnni256Evex};
Avx2Int8 avx2_int8_from_env(const char* value);  // the choice for R1_AVX2_INT8=value (or unset)
Avx2Int8 avx2_int8();
bool avx2_int8_supported(Avx2Int8 v);
void set_avx2_int8(Avx2Int8 v);
void reset_avx2_int8();  // back to the CPU's default
const char* avx2_int8_name(Avx2Int8 v);

}  // namespace r1::kernels
