// The op set models are written in. Each op takes and returns r1::Tensor (activations are
// contiguous f32; weights are in their stored dtype) and runs on the process thread pool
// through the dispatched kernels. While a tape is active (tape.h) each op whose input is tracked
// records its backward, which lives beside its forward (docs/DESIGN.md principle 1): one model
// definition serves inference and training. In-place ops (name ending in _) refuse tracked
// inputs, except rope_half, whose backward is exact in place.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace r1::ops {

class Tape;

// What linear() found on an fp8 weight's first use: whether its bytes hold a NaN code, for the
// data it looked at (a Weight whose w is replaced is looked at again).
struct Fp8Scan {
  std::mutex mu;
  const void* data = nullptr;
  bool no_nan = false;
};

// A weight matrix [N, K] as stored: f32, bf16, f16, or fp8 e4m3 with per-block scales
// (DeepSeek-V3's weight_scale_inv: w[n, k] = fp8(w[n, k]) * scale[n / block_n, k / block_k]).
struct Weight {
  Tensor w;
  Tensor scale;  // [ceil(N / block_n), ceil(K / block_k)] f32; undefined unless w is fp8
  int64_t block_n = 128, block_k = 128;
  // fp8 only, optional (its loader makes one; copies share it): lets linear() look for NaN codes
  // once, on first use, instead of the kernels looking in every call (GemmParams::w_no_nan).
  std::shared_ptr<Fp8Scan> fp8_scan;

  int64_t rows() const { return w.dim(0); }
  int64_t cols() const { return w.dim(1); }
  uint64_t nbytes() const { return w.nbytes() + (scale.defined() ? scale.nbytes() : 0); }
};

// y[T, N] = x[T, K] . w[N, K]^T (+ bias[N]) with weights in their stored dtype.
// Numerics: weights are widened exactly and activations stay f32, whatever the dtype. With
// set_fast_bf16(true), bf16 weights instead use the kernels' bf16 dot products, which round the
// activations to bf16 first (kernels.h GemmParams::bf16_dot): about twice the prefill arithmetic
// rate, results within bf16 rounding. So do fp8 weights (the activations times the block scales
// rounded below kFp8Bf16PanelMinM rows, the weights times their scales from there on: kernels.h)
// and block-quantized weights for 48 rows or more (prompts; instead of 8-bit activations):
// uses_bf16_dot in ops.cc.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias = nullptr);
Tensor linear(const Tensor& x, const Weight& w, const Tensor* bias = nullptr);
// As linear, with bf16 dot products for bf16 W only when `bf16_dot`, whatever set_fast_bf16 says
// (and for f32 W when `bf16_dot` and set_bf16_matmul(true)).
Tensor linear(const Tensor& x, const Weight& w, const Tensor* bias, bool bf16_dot);
// Never bf16 dot products (DeepSeek's router: Hugging Face computes its logits in f32).
Tensor linear_exact(const Tensor& x, const Weight& w);
// Columns [n0, n1) of linear(x, w) (no bias, no tape) into y [M, N], on this thread: for callers
// that split several products over the thread pool themselves. fp8 w: n0 a multiple of block_n,
// and fp8_no_nan(w) asked beforehand (not from inside a pool task).
void linear_columns(const Tensor& x, const Weight& w, Tensor& y, int64_t n0, int64_t n1);
// For fp8 rows [n0, n0 + n) of a weight with blocks of block_n rows: the block_n a product over
// just those rows uses (its scale rows are n0 / block_n + r / the result): block_n when n0 starts
// a block, n when the rows lie inside one block, 0 when they cross a block and do not start one.
int64_t fp8_slice_block(int64_t n0, int64_t n, int64_t block_n);
// y[M, n1 - n0] (row stride ldy) = x[M, K] (row stride ldx) . w[n0 : n1]^T with linear's products
// (bf16 dot products as set_fast_bf16 says), on this thread; fp8 rows must be a slice
// fp8_slice_block accepts.
void weight_rows_product(const float* x, int64_t ldx, int64_t M, const Weight& w, int64_t n0,
                         int64_t n1, bool w_no_nan, float* y, int64_t ldy);
void set_fast_bf16(bool on);
// Training's --bf16-matmul: the products of f32 weights and activations (linear, its backward,
// gemm_f32, causal_attention) use bf16 dot products, both operands rounded to bf16 and products
// summed in f32 (as PyTorch's bf16 autocast computes them); linear_exact stays exact. For CPUs
// with bf16 dot products (AVX-512 BF16); elsewhere the rounding is only emulated (slower).
void set_bf16_matmul(bool on);
bool bf16_matmul();
// y [M, N] (+)= A . B^T for f32 operands read in place: A (m, k) at a[m * lda + k], or with
// a_trans at a[k * lda + m]; B (n, k) at b[n * ldb + k], or with b_trans at b[k * ldb + n]; y
// contiguous. Columns split over the thread pool. No tape: the backward passes' product.
void gemm_f32(int64_t M, int64_t N, int64_t K, const float* a, int64_t lda, bool a_trans,
              const float* b, int64_t ldb, bool b_trans, float* y, bool accumulate);
// The backward passes' gradient update: x's gradient += scale * g (written, not added, when
// x has none yet), split over the thread pool when large.
void accumulate_grad(Tape& t, const Tensor& x, const Tensor& g, float scale = 1.0f);
// w^T as a contiguous f32 [K, N] (widened from its stored dtype, fp8 block scales applied).
Tensor transpose(const Weight& w);
Tensor transpose(const Tensor& x);
// dst += scale * src (f32, same number of elements).
void accumulate(Tensor& dst, const Tensor& src, float scale = 1.0f);
bool fast_bf16();
// Whether fp8 w is known to hold no NaN code: looked for once per weight, on its first use (each
// row on the thread pool; not from inside a thread-pool task), and remembered in w.fp8_scan.
bool fp8_no_nan(const Weight& w);
// Rows [row0, row0 + n) of w widened to f32 (fp8 scaled by its block scales): out [n, K].
void widen_rows(const Weight& w, int64_t row0, int64_t n, float* out);

// Row-wise RMSNorm: y = x / sqrt(mean(x^2) + eps) * w.   x: [T, H], w: [H]
Tensor rms_norm(const Tensor& x, const Tensor& w, float eps);

// Rows of `table` ([V, H], any float dtype) for ids, widened to f32: [n, H].
// Ids outside [0, V) are an Input error.
Tensor embedding(const Tensor& table, const std::vector<int32_t>& ids);

// Rotary embedding, half-split ("rotate_half") form used by Qwen2 and Llama, in place.
// x: [T, n_heads * head_dim]; cos, sin: [T, head_dim / 2] for each token's position.
void rope_half(Tensor& x, int64_t n_heads, const Tensor& cos, const Tensor& sin);

// g = silu(g) * u, in place on g. Both [T, I].
void silu_mul_(Tensor& g, const Tensor& u);

// y = silu(g) * u, a new tensor.
Tensor silu_mul(const Tensor& g, const Tensor& u);

// y += x (same shape).
void add_(Tensor& y, const Tensor& x);
// a + b, a new tensor.
Tensor add(const Tensor& a, const Tensor& b);
// a + s * b, a new tensor.
Tensor add_scaled(const Tensor& a, const Tensor& b, float s);
// a + b and silu(g) * u reusing the first operand's storage when nothing is recorded
// (inference), new tensors while a tape records (the backward needs the inputs). The caller
// hands the first operand over.
Tensor add_reuse(Tensor a, const Tensor& b);
Tensor silu_mul_reuse(Tensor g, const Tensor& u);

// Selects rows of x: [rows.size(), H].
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& rows);

// tmp[0, n) = the bf16 values src[0, n) widened (the kernels' to_f32); returns tmp.
const float* widen_bf16(const uint16_t* src, int64_t n, float* tmp);

// Rows of `width` elements stored block by block (the paged KV cache), in f32 or bf16, each
// row cut into segments of `segment` elements (a kv head's; 0: the whole row). Within block
// j / block_size, starting at element offset, segment s of every row of the block comes before
// segment s + 1's, so one segment's rows are contiguous: element c of row j is at
//   offset + (c / segment) * block_size * segment + (j % block_size) * segment + c % segment.
struct RowBlocks {
  const float* const* blocks = nullptr;  // block memory (bf16 rows: read as uint16_t)
  int64_t offset = 0, width = 0, block_size = 1;
  bool bf16 = false;
  int64_t segment = 0;
  int64_t seg() const { return segment > 0 ? segment : width; }
  // Where element c of row j % block_size is within its block.
  int64_t at(int64_t j, int64_t c) const {
    const int64_t s = seg();
    return offset + (c / s) * block_size * s + (j % block_size) * s + c % s;
  }
  // Elements [c0, c0 + n) of row j, inside one segment, as f32: a pointer into the block for
  // f32 rows, or tmp (n floats) filled with the widened values for bf16 rows.
  const float* get(int64_t j, int64_t c0, int64_t n, float* tmp) const {
    if (!bf16) return blocks[j / block_size] + at(j, c0);
    return widen_bf16(reinterpret_cast<const uint16_t*>(blocks[j / block_size]) + at(j, c0), n,
                      tmp);
  }
};

// Causal attention of each token against its own sequence's cached keys/values.
// For token t and query head h (kv head h / (n_heads / n_kv_heads)):
//   out[t, h] = sum_{j <= pos[t]} softmax_j(scale * q[t, h] . k_t[j]) v_t[j]
// where kv[t] holds token t's sequence's key and value rows, each [n_kv_heads][head_dim].
// Tasks: one per tile of prompt tokens and kv head; a decode batch with fewer (token, kv head)
// pairs than threads splits each token's rows into parts and merges their softmax sums.
struct KvSpan {
  RowBlocks k, v;
};
// One task's share of attention over cached rows: the G query heads q[g * dk, (g + 1) * dk)
// that share keys k (elements [ck, ck + dk) of each row, inside one segment) and values v
// (elements [cv, cv + dv))
// attend to rows [0, n):  o[g * dv + d] += sum_j softmax_j(scale * q_g . k_j) v_j[d]
// (o starts at zero for plain attention). Each row is read once for all G heads, through the
// attention kernels (which prefetch the rows ahead: the blocks are short runs of memory). With
// row_len, query g attends to rows [0, row_len[g]) only (row_len[g] <= n): several tokens of
// one prompt as one block of queries.
void attend_rows(const float* q, int64_t G, int64_t dk, const RowBlocks& k, int64_t ck,
                 const RowBlocks& v, int64_t cv, int64_t dv, int64_t n, float scale, float* o,
                 const int64_t* row_len = nullptr);
// Whether a and b describe the same rows of the same blocks.
bool same_rows(const RowBlocks& a, const RowBlocks& b);
// A batch's tokens in tiles [first, last) of at most max_tokens: runs of consecutive positions
// of one sequence (same_sequence(a, b): tokens a and b read the same cached rows), as a prompt's
// tokens are, whose scores (rows_per_token query rows per token, times the positions the last
// one sees) stay within a fixed budget (16 MB); a decode batch's tokens are tiles of one.
std::vector<std::pair<int64_t, int64_t>> prompt_tiles(
    const std::vector<int32_t>& pos, int64_t max_tokens, int64_t rows_per_token,
    const std::function<bool(int64_t, int64_t)>& same_sequence);
// attend_rows for the heads that share k / v of `tokens` consecutive tokens at positions
// pos[0, tokens) (rows [0, pos[i] + 1) for token i) as one block of query rows: token i's G
// queries at q + i * ldq (dk apart), its outputs added at o + i * ldo (dv apart). The kernels
// read each cached row once for the whole tile (GEMM-shaped from kernels' wide row counts on).
void attend_tile(const float* q, int64_t ldq, int64_t G, int64_t dk, const RowBlocks& k, int64_t ck,
                 const RowBlocks& v, int64_t cv, int64_t dv, const int32_t* pos, int64_t tokens,
                 float scale, float* o, int64_t ldo);
Tensor attention(const Tensor& q, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim,
                 const std::vector<KvSpan>& kv, const std::vector<int32_t>& pos, float scale);

// Self-attention inside packed sequences (training and full-sequence scoring; no cache):
// token t attends to tokens start[t] .. t (its own sequence up to itself), start[t] <= t.
//   out[t, h] = sum_j softmax_j(scale * q[t, h] . k[j, h / group]) v[j, h / group]
// q: [T, n_heads * qk_dim], k: [T, n_kv_heads * qk_dim], v: [T, n_kv_heads * v_dim];
// out: [T, n_heads * v_dim]. The backward recomputes scores from the saved log-sum-exps; the
// tape keeps nothing of size L x L (L a sequence's length), though each thread uses a few L x L
// scratch blocks while it works on a sequence.
Tensor causal_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t n_heads,
                        int64_t n_kv_heads, int64_t qk_dim, int64_t v_dim,
                        const std::vector<int32_t>& start, float scale);
// start[t] for a batch of packed sequences given each token's position: t - pos[t]. Positions
// must run 0, 1, 2, ... within each sequence (an Internal error otherwise).
std::vector<int32_t> sequence_starts(const std::vector<int32_t>& pos);

// Next-token cross-entropy straight from hidden states, never holding more than a chunk of
// logits: loss = scale * sum over t with targets[t] >= 0 of -log softmax(h[t] . w^T)[targets[t]].
// h: [T, H] f32; w: [V, H] (the output embedding, any float dtype); targets[t] < 0 means no
// loss at t. Returns a one-element tensor. If token_logprobs is given it receives log p of each
// target (0 where targets[t] < 0). When h or w is tracked, the gradients are formed chunk by
// chunk during the forward and scaled by the incoming gradient in backward.
Tensor cross_entropy(const Tensor& h, const Tensor& w, const std::vector<int32_t>& targets,
                     float scale, std::vector<float>* token_logprobs = nullptr);

// Per-token log-probabilities straight from hidden states, chunk by chunk as cross_entropy:
// lp[t] = log softmax(h[t] . w^T / temperature)[targets[t]] for targets[t] >= 0, 0 elsewhere.
// h: [T, H] f32; w: [V, H]; returns lp [T] f32, tracked when h or w is. Its backward takes dL/dlp
// per token and recomputes each chunk's logits (no [T, V] tensor is kept between forward and
// backward): dz = dL/dlp[t] / temperature * (onehot(target) - softmax). If entropy is given it
// receives each counted token's entropy of that distribution (nats; 0 elsewhere).
Tensor token_logprobs(const Tensor& h, const Tensor& w, const std::vector<int32_t>& targets,
                      float temperature, std::vector<float>* entropy = nullptr);

// log_softmax of each row of logits [T, V], in place; returns nothing, rows become log-probs.
void log_softmax_(Tensor& logits);

}  // namespace r1::ops
