// Multi-head latent attention (DeepSeek-V2/V3), docs/FACTS.md section 2, in its two forms:
//   naive:    k_nope, v = kv_b_proj(c) per head; k = [k_nope, k_pe]; softmax(q.k * scale) v
//   absorbed: q_lat = q_nope . W_k[h] (W_k[h]: the head's k rows of kv_b_proj, [nope, lora]);
//             scores = (q_lat . c + q_pe . k_pe) * scale; o_lat = softmax . c;
//             out = o_lat . W_v[h]^T (W_v[h]: the head's v rows, [v, lora]).
// The absorbed form caches only c (the normalized latent, kv_lora_rank) and the rotated k_pe
// (qk_rope_head_dim) per token; both forms compute the same function.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/ops.h"

namespace r1::ops {

// Interleaved rotary embedding (DeepSeek-V3 inference/model.py apply_rotary_emb: pairs
// (x[2i], x[2i+1]) rotated by angle position * f_i), in place on the `dim` columns starting at
// `offset` of each of n_heads heads of width head_stride. cos, sin: [T, dim / 2].
// On a tracked x it records a backward that rotates the gradient back in place (exact, like
// rope_half): the other columns' gradients pass through unchanged.
void rope_interleaved(Tensor& x, int64_t n_heads, int64_t head_stride, int64_t offset,
                      const Tensor& cos, const Tensor& sin);

// Column slices and concatenations, head by head (with a backward each). x: [T, n_heads * W].
// head_columns: columns [c0, c0 + n) of each head's W -> [T, n_heads * n].
Tensor head_columns(const Tensor& x, int64_t n_heads, int64_t c0, int64_t n);
// Columns [c0, c0 + n) of x [T, W] -> [T, n] (head_columns with one head).
Tensor columns(const Tensor& x, int64_t c0, int64_t n);
// Head h of the result is [a_h, b_h]: a [T, n_heads * da]; b [T, n_heads * db], or with b_shared
// [T, db], one head shared by every head (MLA's rotary key; its gradient sums over the heads).
// -> [T, n_heads * (da + db)].
Tensor concat_heads(const Tensor& a, const Tensor& b, int64_t n_heads, bool b_shared = false);
// [a, b] side by side: [T, da + db] (concat_heads with one head).
Tensor concat_columns(const Tensor& a, const Tensor& b);

struct MlaShape {
  int64_t n_heads, nope, rope, v,
      lora;     // qk_nope_head_dim, qk_rope_head_dim, v_head_dim, kv_lora_rank
  float scale;  // softmax scale (with YaRN's mscale^2)
};

// One cached sequence: a row [lora + rope] per position holding c then k_pe.
struct LatentSpan {
  RowBlocks rows;
};

// The key half of an fp8 kv_b_proj transposed head by head for mla_absorbed: row h * lora + r
// holds W_k[h][:, r] (nope values), with the block scales carried over, so the absorbed query is
// one fused fp8 product per head instead of widening the weight on every step. Undefined (w not
// defined) unless kv_b is fp8 with blocks that tile each head's key and value halves (DeepSeek-V3:
// 128 x 128 blocks, nope = v = 128). Only for weights that do not change (fp8 never trains).
Weight mla_key_transposed(const Weight& kv_b, const MlaShape& s);

// q: [T, n_heads * (nope + rope)] with q_pe already rotated. kv_b: [n_heads * (nope + v), lora].
// Each token t attends to positions 0..pos[t] of spans[t]. Returns [T, n_heads * v]. key_t:
// optional, mla_key_transposed(kv_b, s). The products with kv_b's halves are linear's (bf16 dot
// products where set_fast_bf16 asks for them: weight_rows_product).
Tensor mla_absorbed(const Tensor& q, const Weight& kv_b, const MlaShape& s,
                    const std::vector<LatentSpan>& spans, const std::vector<int32_t>& pos,
                    const Weight* key_t = nullptr);
Tensor mla_naive(const Tensor& q, const Weight& kv_b, const MlaShape& s,
                 const std::vector<LatentSpan>& spans, const std::vector<int32_t>& pos);

}  // namespace r1::ops
