// The scalar reference kernels: the definitions every SIMD kernel is tested against. Written for
// clarity, not speed (the KernelTable for Isa::Scalar is made of these).
#pragma once

#include "kernels/kernels.h"

namespace r1::kernels::ref {

void gemm(const GemmParams& p);
float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);
void rms_norm(const float* x, const void* w, DType wtype, float eps, float* y, int64_t n);
void silu_mul(const float* g, const float* u, float* y, int64_t n);
void silu_mul_grad(const float* g, const float* u, const float* dy, float* dg, bool dg_add,
                   float* du, bool du_add, int64_t n);
void softmax(float* x, int64_t n);
float exp_sum(float* x, float shift, int64_t n);
void to_f32(const void* src, DType t, float* dst, int64_t n);
void add(const float* a, const float* b, float* y, int64_t n);
float sum_streams(const float* x, int64_t stride, int64_t n, int streams);
void quantize_x_q8(const float* x, int64_t n, int8_t* q, float* d);
void x_to_bf16(const float* x, int64_t ldx, bool x_trans, int64_t M, int64_t K, uint16_t* xb,
               int64_t ldb);
void attn_scores(const float* q, int64_t G, int64_t D, const void* const* k, DType kt, int64_t n,
                 float scale, float* s, int64_t lds);
void attn_values(const float* p, int64_t ldp, int64_t G, int64_t D, const void* const* v, DType vt,
                 int64_t n, float* o);

}  // namespace r1::kernels::ref
