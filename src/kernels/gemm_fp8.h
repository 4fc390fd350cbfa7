// fp8 (e4m3, block-scaled) GEMM for every ISA. Small M (decode) on AVX2 and AVX-512 runs a fused
// kernel that reads fp8 W once, widening it in registers, with the block scales applied to X;
// larger M on AVX-512 packs W straight into the f32 GEMM's panels, scaled as it goes. Otherwise
// panels of W rows are widened with their scales into a buffer of about 1 MB for the ISA's f32
// GEMM. Either way the matrix is never converted whole.
#pragma once

#include "kernels/kernels.h"

namespace r1::kernels {

using GemmFn = void (*)(const GemmParams&);
using ToF32Fn = void (*)(const void*, DType, float*, int64_t);

// p.wtype must be F8_E4M3. fused (M <= kFp8FusedMaxM) and packed (larger M) may be null: no
// such kernel for this ISA.
void gemm_fp8(const GemmParams& p, GemmFn gemm_f32, ToF32Fn to_f32, GemmFn fused, GemmFn packed);

// The largest M the fused kernels take (each widened W vector is used by every X row).
constexpr int64_t kFp8FusedMaxM = 4;

// The fused kernels' driver (ISA-neutral): for each group of W rows in [n_begin, n_end) that
// share their block scales (one block_n group), X is copied with column k times
// s[group, k / block_k] * 2^8 into rows kpad (>= K) apart, zero past K, and rows(p, n0, n1, xs,
// kpad) computes that group's outputs from it.
using Fp8RowsFn = void (*)(const GemmParams& p, int64_t n0, int64_t n1, const float* xs,
                           int64_t kpad);
void fp8_fused_groups(const GemmParams& p, int64_t kpad, Fp8RowsFn rows);

// Whether n e4m3 bytes hold a NaN code (s.1111.111).
bool fp8_has_nan(const uint8_t* row, int64_t n);

}  // namespace r1::kernels
