// fp8 (e4m3, block-scaled) GEMM for every ISA. Small M (decode, and in passes short prompts and
// experts' rows) on AVX2 and AVX-512 runs a fused kernel that reads fp8 W once per pass, widening
// it in registers, with the block scales applied to X; larger M on AVX-512 packs W straight into
// the f32 GEMM's panels, scaled as it goes. Otherwise
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
// Below this many X rows the fused kernels run in passes of kFp8FusedMaxM rows (each pass
// reading W again, bound more by the vector pipes than by memory) rather than packing W into
// panels per call: AVX-512 on Zen 4, one thread (kernels_bench --dtype f8_e4m3 --shape 4,1,
// GFLOP/s, passes against panels): M = 8 89-104 vs 29-32, 16 95-106 vs 39-47, 32 95-106 vs
// 57-69, 64 94-107 vs 67-86, 128 96-107 vs 94-98. AVX2 on the same CPU (--isa avx2, against its
// f32 panels): M = 8 75-78 vs 34-39, 16 76-80 vs 45-52, 32 76-80 vs 47-62, 63 74-81 vs 80-81.
// Not measured on Intel.
constexpr int64_t kFp8PassesBelowM = 64;
// With bf16_dot (kernels.h): from this many X rows on, W times its scales is rounded to bf16 in
// panels shared by all rows; fewer rows take X times the scales rounded, through the fused bf16
// kernel in passes of kFp8FusedMaxM rows. Where they cross, Zen 4, one thread (kernels_bench
// --dtype f8_e4m3+bf16 --shape 4,1, GFLOP/s, fused passes against panels): M = 8 121-174 vs 36-39,
// 32 175 vs 99-103, 96 155-169 vs 144-161, 128 165-172 vs 163-174, 256 167-173 vs 188-194.
constexpr int64_t kFp8Bf16PanelMinM = 128;

// How the fused kernels widen fp8 bytes to f32. F16: through f16 (the e4m3 value times 2^-8, made
// from the sign-extended byte and widened with vcvtph2ps; subnormal codes become f16 subnormals,
// which vcvtph2ps turns into normal f32 at full speed). Subnormal: straight to the f32 bit
// pattern of the value times 2^-120 (the sign-extended byte shifted left by 20, bits 30-27
// cleared), three integer operations and no conversion, but e4m3's subnormal codes (its values
// under 2^-6) become f32 subnormals, which the FMA takes at full speed on AMD Zen 4 and slowly on
// Intel (microcode assists: a Xeon streamed 0.5 GB/s so). Both give the same sums: X carries 2^8
// or 2^60 and the Subnormal sums are multiplied by 2^60 at the end, powers of two that change no
// rounding unless a partial sum's magnitude falls under 2^-66 (held times 2^-60, an f32
// subnormal).
enum class Fp8Widen { F16, Subnormal };
// The default is Subnormal on AMD and F16 elsewhere: on AMD Zen 4 Subnormal streams one X row at
// 27 GB/s from the caches, F16 at 18 (kernels_bench --dtype f8_e4m3 --m 1 --shape 4 --hot 1
// --fp8-widen f16,subnormal). set_fp8_widen overrides it for the whole process (tests and
// kernels_bench run both); not to be called while a GEMM runs.
Fp8Widen fp8_widen();
void set_fp8_widen(Fp8Widen w);
void reset_fp8_widen();  // back to the CPU's default

// The fused kernels' driver (ISA-neutral): for each group of W rows in [n_begin, n_end) that
// share their block scales (one block_n group), X is copied with column k times
// s[group, k / block_k] * x_scale into rows kpad (>= K) apart, zero past K, and rows(p, n0, n1,
// xs, kpad) computes that group's outputs from it.
using Fp8RowsFn = void (*)(const GemmParams& p, int64_t n0, int64_t n1, const float* xs,
                           int64_t kpad);
void fp8_fused_groups(const GemmParams& p, int64_t kpad, float x_scale, Fp8RowsFn rows);

// fn on X's and Y's rows in consecutive groups of at most kFp8FusedMaxM (the fused kernels'
// passes over W for more rows).
void fp8_row_passes(const GemmParams& p, GemmFn fn);

// Whether n e4m3 bytes hold a NaN code (s.1111.111).
bool fp8_has_nan(const uint8_t* row, int64_t n);

}  // namespace r1::kernels
