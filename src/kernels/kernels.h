// The kernel interface: plain functions over raw arrays, one table per instruction set.
// kernels/ref holds the scalar reference (the truth every SIMD version is tested against);
// kernels/cpu holds AVX2 and AVX-512 versions. A kernel knows nothing of transformers, tensors
// or threads: callers split work (for example the GEMM's output columns) across threads.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace r1::kernels {

enum class Isa { Scalar, Avx2, Avx512 };
const char* isa_name(Isa isa);

// Y[m, n] = sum_k X[m, k] * W[n, k] for m in [0, M) and n in [n_begin, n_end).
// X and Y are f32; W is f32, bf16, f16 (rows of length K, row stride ldw elements), or fp8
// e4m3 with f32 block scales: w[n, k] = fp8(w[n, k]) * w_scale[(n / block_n) * ld_scale +
// k / block_k] (DeepSeek-V3's weight_scale_inv), dequantized on the fly block by block.
// Numerics (the contract every ISA keeps; the reference computes exactly this):
//   f32 / f16 / bf16 W (bf16_dot false, the default): products of f32 X and W widened exactly,
//     summed in f32.
//   bf16 W with bf16_dot: X is first rounded to bf16 (round to nearest even), then products
//     summed in f32. This is what bf16 hardware dot products (vdpbf16ps) compute: about twice the
//     arithmetic rate, for results within bf16 rounding of the exact ones.
//   fp8 W with bf16_dot, M < kFp8Bf16PanelMinM (kernels/gemm_fp8.h): X times the weights'
//     block scale (in f32) rounded to bf16, times the fp8 value (exact in bf16), products summed
//     in f32: the block scales go on X, as the fused decode kernels apply them, so only X is
//     rounded. More rows (long prompts): W times its block scale (in f32) and X each rounded to
//     bf16, products summed in f32 (bf16 panels, each shared by all rows), which is how
//     DeepSeek-V3's own inference code computes with its default bf16 GEMM (its fp8 GEMM quantizes
//     X to e4m3 per 128 instead).
//   f32 W with bf16_dot (training's --bf16-matmul): X and W both rounded to bf16, then products
//     summed in f32; transposed operands and accumulation allowed (below).
//   Q8_0 W (rows of whole 32-blocks; ldw in elements): each X row is quantized per block of 32
//     as llama.cpp quantizes activations for it, but with an f32 scale: dx = max|x| / 127,
//     qx = roundf(x * (1 / dx)) (KernelTable::quantize_x_q8); then Y = sum over blocks of
//     (f16 dw * dx) * (the exact int32 sum of qw * qx), for any qw (llama.cpp's quantizer
//     writes [-127, 127], but -128 is a valid byte of a file and is computed exactly).
//   Q4_0 / Q5_0 / Q4_K / Q6_K W (rows of whole blocks): X quantized as for Q8_0; each 32-weight
//     chunk of W in core/quant.h's QuantChunk form contributes dx * (f0 * the int32 sum of the
//     first 16 products q * qx + f1 * that of the last 16 - mn * the sum of the 32 qx).
//   Any block-quantized W (the packed layouts too) with bf16_dot: each weight f * q - mn computed
//     in f32 (dequantize_row's value) and rounded to bf16, X rounded to bf16, products summed in
//     f32: what bf16 dot products over dequantized panels compute. Finer than quantizing X to
//     8 bits, and on CPUs whose bf16 dot products outrun their int8 ones (Zen 4 / 5) faster for
//     many X rows, where the panels' dequantization is shared by all of them (ops picks it).
// Transposed operands and accumulation (f32 W only, with or without bf16_dot): with x_trans X is
// stored k-major, element (m, k) at x[k * ldx + m]; with w_trans W is stored k-major, element (n,
// k) at w[k * ldw + n] (w then points at column 0 of k = 0; n_begin / n_end index its columns). The
// backward of a linear layer needs both (dX = dY . W, dW = dY^T . X) without transposing copies.
// Summation order is unspecified; results agree with the reference within float rounding.
struct GemmParams {
  int64_t M = 0, K = 0;
  int64_t n_begin = 0, n_end = 0;  // output columns this call computes
  const float* x = nullptr;        // [M, K], row stride ldx
  int64_t ldx = 0;
  const void* w = nullptr;  // [N, K] in wtype, row stride ldw (elements)
  int64_t ldw = 0;
  DType wtype = DType::F32;
  bool bf16_dot = false;           // bf16, f32, fp8 or block-quantized W: bf16 products (above)
  const float* w_scale = nullptr;  // fp8 W only: block scales, row stride ld_scale
  // fp8 W only: the caller knows W holds no NaN code (s.1111.111), so the kernels need not look
  // for one. Otherwise a NaN code makes its outputs NaN, as the reference's products do.
  bool w_no_nan = false;
  int64_t ld_scale = 0;
  int64_t block_n = 128, block_k = 128;
  float* y = nullptr;  // [M, N], row stride ldy
  int64_t ldy = 0;
  // Block-quantized W only, optional: X already quantized (quantize_x_q8 of each row: q rows of K,
  // scales rows of K / 32), so that calls for different column ranges do not each quantize it.
  const int8_t* xq = nullptr;
  const float* xd = nullptr;
  // bf16_dot only, optional: X already rounded to bf16 as KernelTable::x_to_bf16 writes it (rows
  // of ldxb elements, ldxb >= K a multiple of 32, zero from K on), so that calls for different
  // column ranges do not each convert it. Kernels without bf16 dot products ignore it.
  const uint16_t* xb = nullptr;
  int64_t ldxb = 0;
  bool x_trans = false, w_trans = false;  // k-major X / W (above)
  bool accumulate = false;                // Y += X . W^T instead of Y = (f32 W only)
};

struct KernelTable {
  Isa isa;
  void (*gemm)(const GemmParams& p);
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float a, const float* x, float* y, int64_t n);  // y += a * x
  // y = x / sqrt(mean(x^2) + eps) * w, w in wtype (f32, bf16 or f16). y may alias x.
  void (*rms_norm)(const float* x, const void* w, DType wtype, float eps, float* y, int64_t n);
  // y = silu(g) * u where silu(g) = g / (1 + exp(-g)). y may alias g or u.
  void (*silu_mul)(const float* g, const float* u, float* y, int64_t n);
  // The gradients of y = silu(g) * u given dy: dg = dy u silu'(g), du = dy silu(g), with
  // silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). A null dg or du is skipped; dg_add / du_add add
  // to the buffer instead of writing it.
  void (*silu_mul_grad)(const float* g, const float* u, const float* dy, float* dg, bool dg_add,
                        float* du, bool du_add, int64_t n);
  // In place: x = exp(x - max) / sum.
  void (*softmax)(float* x, int64_t n);
  // In place: x = exp(x - shift); returns the sum of the results.
  float (*exp_sum)(float* x, float shift, int64_t n);
  // dst = src widened to f32 (src in f32, bf16, f16 or f8_e4m3).
  void (*to_f32)(const void* src, DType t, float* dst, int64_t n);
  void (*add)(const float* a, const float* b, float* y, int64_t n);  // y = a + b, may alias
  // The sum of the `streams` (1 to 8) runs of n values at x + j * stride, read side by side (as the
  // decode kernels read several weight rows), in an unspecified order: the memory bandwidth
  // probe's read (kernels/membw.h).
  float (*sum_streams)(const float* x, int64_t stride, int64_t n, int streams);
  // X quantized for Q8_0 weights: n (a multiple of 32) values -> n int8 q and n / 32 f32 scales
  // (the reference: ref::quantize_x_q8).
  void (*quantize_x_q8)(const float* x, int64_t n, int8_t* q, float* d);
  // X [M, K] (x_trans: k-major, as GemmParams reads it) rounded to bf16 (nearest even) into rows
  // xb[m * ldb + k], ldb >= K a multiple of 32, zero from K to ldb (GemmParams::xb).
  void (*x_to_bf16)(const float* x, int64_t ldx, bool x_trans, int64_t M, int64_t K, uint16_t* xb,
                    int64_t ldb);
  // Attention over cached rows for the G query heads that share one key / value head (decode):
  //   attn_scores: s[g * lds + j] = scale * sum_d q[g * D + d] * k_j[d]
  //   attn_values: o[g * D + d] += sum_j p[g * ldp + j] * v_j[d]
  // for g < G, j < n, d < D, where row j of k (v) is the D elements at k[j] (v[j]), f32 or bf16
  // (widened exactly); sums in f32, in an unspecified order. Each cached row is read once from
  // memory for all G heads (tiles of rows x heads whose sums are reduced together), and the rows
  // a few places ahead are prefetched through their pointers as the kernels go: cached rows lie
  // in short runs (KV cache blocks) that the hardware prefetchers do not follow.
  void (*attn_scores)(const float* q, int64_t G, int64_t D, const void* const* k, DType kt,
                      int64_t n, float scale, float* s, int64_t lds);
  void (*attn_values)(const float* p, int64_t ldp, int64_t G, int64_t D, const void* const* v,
                      DType vt, int64_t n, float* o);
};

// The best table this CPU supports, chosen once (R1_ISA=scalar|avx2|avx512 caps it).
const KernelTable& kernels();
// A specific table; fails (Internal error) if this CPU lacks the ISA. For tests and benches.
const KernelTable& kernels_for(Isa isa);
bool isa_supported(Isa isa);

}  // namespace r1::kernels
