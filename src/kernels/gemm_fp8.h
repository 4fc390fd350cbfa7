// fp8 (e4m3, block-scaled) GEMM for every ISA. Small M (decode) on AVX-512 runs a fused kernel
// that reads fp8 W once, widening it in registers, with the block scales applied to X; larger M
// on AVX-512 packs W straight into the f32 GEMM's panels, scaled as it goes. Other ISAs widen
// panels of W rows with their scales into an L2-sized f32 buffer for the ISA's f32 GEMM. Either
// way the matrix is never converted whole.
#pragma once

#include "kernels/kernels.h"

namespace r1::kernels {

using GemmFn = void (*)(const GemmParams&);
using ToF32Fn = void (*)(const void*, DType, float*, int64_t);

// p.wtype must be F8_E4M3. fused (M <= kFp8FusedMaxM) and packed (larger M) may be null: no
// such kernel for this ISA.
void gemm_fp8(const GemmParams& p, GemmFn gemm_f32, ToF32Fn to_f32, GemmFn fused, GemmFn packed);

// The largest M the fused kernels take (W rows are re-read from L1 for each X row).
constexpr int64_t kFp8FusedMaxM = 4;

}  // namespace r1::kernels
