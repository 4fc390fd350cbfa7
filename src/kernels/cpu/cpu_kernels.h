// Entry points of the SIMD kernels, one namespace per ISA (files *_avx2.cc, *_avx512.cc). Only
// declarations: this header is included by ISA-compiled files, so it must define no inline
// function (an ISA-compiled copy could be the one the linker keeps for scalar callers).
#pragma once

#include <cstddef>

#include "kernels/kernels.h"

namespace r1::kernels {

// Decode attention (attn.inc): the rows of the kv cache whose lines are prefetched, this many
// ahead of the row in use (a row's lines as it is read: a steady trickle, not a burst per block);
// and the rows whose values every head group takes in turn while they are in the L1.
constexpr int64_t kAttnAhead = 16;
constexpr int64_t kAttnChunk = 16;
// From this many query rows on, the AVX-512 attention kernels run GEMM-shaped
// (attn_wide_avx512.cc): prefill tiles of several tokens' heads, MLA's many heads.
constexpr int64_t kAttnWideRows = 24;

// Thread-local, 64-byte aligned scratch memory (kernels/cpu/scratch.cc, compiled without ISA
// flags). Each slot is a separate buffer, grown on demand and kept for the thread's life; the
// pointer stays valid until the next call with the same slot on the same thread.
enum ScratchSlot { kScratchW = 0, kScratchX = 1, kScratchSlots = 2 };
void* scratch(int slot, size_t bytes);

// The GEMM cases that need no arithmetic, shared by the ISAs (kernels/cpu/scratch.cc): an
// unsupported W type (reported as the reference does), nothing to compute, K = 0 (Y = 0).
// Returns true when it handled the call.
bool gemm_trivial(const GemmParams& p);
// The last two of those for any W type: nothing to compute, or K = 0 (Y = 0, or unchanged when
// accumulating). Returns true when it handled the call.
bool gemm_empty(const GemmParams& p);

// X of a GEMM with block-quantized W as int8 rows of K and per-32 scales: the caller's
// (GemmParams::xq / xd), or X quantized with `quantize` (the ISA's quantize_x_q8) into scratch
// slot kScratchX. `extra` more floats of that slot, 64-byte aligned, are returned for the
// caller's own per-chunk values (null when 0).
struct QuantizedX {
  const int8_t* q;
  const float* d;
  float* extra;
};
QuantizedX quantized_x(const GemmParams& p,
                       void (*quantize)(const float*, int64_t, int8_t*, float*), int64_t extra);

#define R1_DECLARE_KERNELS                                                                         \
  void gemm(const GemmParams& p);                                                                  \
  float dot(const float* a, const float* b, int64_t n);                                            \
  void axpy(float a, const float* x, float* y, int64_t n);                                         \
  void rms_norm(const float* x, const void* w, DType wtype, float eps, float* y, int64_t n);       \
  void silu_mul(const float* g, const float* u, float* y, int64_t n);                              \
  void silu_mul_grad(const float* g, const float* u, const float* dy, float* dg, bool dg_add,      \
                     float* du, bool du_add, int64_t n);                                           \
  void softmax(float* x, int64_t n);                                                               \
  float exp_sum(float* x, float shift, int64_t n);                                                 \
  void to_f32(const void* src, DType t, float* dst, int64_t n);                                    \
  void add(const float* a, const float* b, float* y, int64_t n);                                   \
  float sum_streams(const float* x, int64_t stride, int64_t n, int streams);                       \
  /* The two GEMM strategies gemm() chooses between, for tests: any M, no argument checks. */      \
  void gemm_small_m(const GemmParams& p); /* dot tiles: W rows streamed once (decode) */           \
  void gemm_large_m(const GemmParams& p); /* packed panels, register-tiled (prefill) */            \
  void gemm_q8_0(const GemmParams& p);    /* Q8_0 W (kernels/cpu/gemm_q8.inc) */                   \
  void gemm_kq(const GemmParams& p);      /* Q4_0, Q5_0, Q4_K, Q6_K W (kernels/cpu/gemm_kq.inc) */ \
  void gemm_r8(const GemmParams& p);      /* packed W (core/quant_pack.h; gemm_r8.inc) */          \
  void quantize_x_q8(const float* x, int64_t n, int8_t* q, float* d);                              \
  void x_to_bf16(const float* x, int64_t ldx, bool x_trans, int64_t M, int64_t K, uint16_t* xb,    \
                 int64_t ldb);                                                                     \
  void attn_scores(const float* q, int64_t G, int64_t D, const void* const* k, DType kt,           \
                   int64_t n, float scale, float* s, int64_t lds);                                 \
  void attn_values(const float* p, int64_t ldp, int64_t G, int64_t D, const void* const* v,        \
                   DType vt, int64_t n, float* o);

namespace avx2 {
R1_DECLARE_KERNELS
// fp8 W, M <= kFp8FusedMaxM: fused dequantization (kernels/cpu/gemm_fp8_avx2.cc).
void gemm_fp8_small_m(const GemmParams& p);
}  // namespace avx2
namespace avx512 {
R1_DECLARE_KERNELS
// fp8 W, M <= kFp8FusedMaxM: fused dequantization (kernels/cpu/gemm_fp8_avx512.cc).
void gemm_fp8_small_m(const GemmParams& p);
// fp8 W with bf16_dot, M < kFp8Bf16PanelMinM, fused as gemm_fp8_small_m, in passes of
// kFp8FusedMaxM rows (more rows go to gemm_fp8_packed's bf16 panels, kernels.h); needs
// AVX512-VBMI on top of the AVX-512 set (kernels/cpu/gemm_fp8_bf16_avx512.cc).
void gemm_fp8_bf16(const GemmParams& p);
// Q8_0 or Q8_0_R8 W through the packed f32 panels (gemm_avx512.cc): the weights widened exactly
// once per panel, X's rows kept in f32 (no int8 quantization of X). gemm_q8_0 / gemm_r8 take it
// for many X rows where f32 FMA outruns the int8 dot products. K > 0, whole 32-blocks (Q8_0_R8:
// whole units and groups, as gemm_r8 checks); X in p.x.
void gemm_q8_0_f32(const GemmParams& p);
// Whether AVX-512 leaves Q8_0 / Q8_0_R8 W to gemm_q8_0_f32 (gemm_q8_avx512.cc): many X rows on a
// CPU whose f32 FMA outruns its int8 dot products.
bool q8_f32_path(const GemmParams& p);
// fp8 W through the packed f32 panels (gemm_avx512.cc), each weight times its block scale as the
// panel is packed: the prefill path (M > kFp8FusedMaxM).
void gemm_fp8_packed(const GemmParams& p);
// Block-quantized W with bf16_dot (kernels.h): each packed panel of W dequantized and rounded to
// bf16 pairs once, for every X row (gemm_avx512.cc; the packed layouts' panels in
// pack_blocks_avx512.cc).
void gemm_blocks_bf16(const GemmParams& p);
// The packed GEMM's panels: kPanelCols W rows, k-major; bf16 panels hold k pairs (32 bits) per
// row and k step. pack_packed_bf16 fills rows [n0, n0 + rows) (whole groups of 8; the last
// panel's columns past them zero), k in [k0, k0 + kc) (whole units), of packed-layout W
// (Q4_K_R8 ...) at dst, 64-byte aligned (pack_blocks_avx512.cc).
constexpr int kPanelCols = 32;
void pack_packed_bf16(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                      uint32_t* dst);
// The same into f32 panels (one f32 per row and k step), for Q8_0_R8 W (gemm_q8_0_f32).
void pack_packed_f32(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc,
                     uint32_t* dst);
// attn_scores / attn_values for kAttnWideRows or more query rows (attn_wide_avx512.cc).
void attn_scores_wide(const float* q, int64_t G, int64_t D, const void* const* k, DType kt,
                      int64_t n, float scale, float* s, int64_t lds);
void attn_values_wide(const float* p, int64_t ldp, int64_t G, int64_t D, const void* const* v,
                      DType vt, int64_t n, float* o);
}  // namespace avx512

// The AVX2 table's int8 GEMMs with vpdpbusd (kernels/cpu/gemm_int8_vnni256.inc): avxvnni in its
// VEX form (AVX-VNNI), avxvnni_evex the same code in AVX-512 VNNI's EVEX form (for tests and
// kernels_bench on CPUs without AVX-VNNI).
#define R1_DECLARE_INT8_KERNELS        \
  void gemm_q8_0(const GemmParams& p); \
  void gemm_kq(const GemmParams& p);   \
  void gemm_r8(const GemmParams& p);   \
  void quantize_x_q8(const float* x, int64_t n, int8_t* q, float* d);
namespace avxvnni {
R1_DECLARE_INT8_KERNELS
}  // namespace avxvnni
namespace avxvnni_evex {
R1_DECLARE_INT8_KERNELS
}  // namespace avxvnni_evex
#undef R1_DECLARE_INT8_KERNELS

#undef R1_DECLARE_KERNELS

}  // namespace r1::kernels
