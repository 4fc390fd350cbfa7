#include "ops/mla.h"

#include <algorithm>
#include <atomic>
#include <map>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/gemm_fp8.h"
#include "kernels/kernels.h"
#include "ops/tape.h"

namespace r1::ops {

// Query rows per MLA attention task in prefill (a tile of a prompt's tokens, all their heads):
// enough for the GEMM-shaped attention kernels, few enough that the scores stay in L2.
constexpr int64_t kMlaTileRows = 192;

namespace {
const kernels::KernelTable& K() {
  return kernels::kernels();
}
}  // namespace

namespace {

// Rotates pairs (v[2i], v[2i+1]) by angle +-a_i (sign +1: the forward; -1: its inverse, which is
// also its transpose, so the backward of the rotation).
void rotate_interleaved(Tensor& x, int64_t n_heads, int64_t head_stride, int64_t offset,
                        const Tensor& cos, const Tensor& sin, float sign) {
  const int64_t T = x.dim(0), half = cos.dim(1);
  for (int64_t t = 0; t < T; ++t) {
    const float* c = cos.ptr<float>() + t * half;
    const float* s = sin.ptr<float>() + t * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x.ptr<float>() + t * x.dim(1) + h * head_stride + offset;
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1], si = sign * s[i];
        v[2 * i] = a * c[i] - b * si;
        v[2 * i + 1] = b * c[i] + a * si;
      }
    }
  }
}

}  // namespace

void rope_interleaved(Tensor& x, int64_t n_heads, int64_t head_stride, int64_t offset,
                      const Tensor& cos, const Tensor& sin) {
  const int64_t T = x.dim(0), half = cos.dim(1);
  R1_ASSERT(cos.dim(0) == T && offset + 2 * half <= head_stride &&
            n_heads * head_stride <= x.dim(1));
  rotate_interleaved(x, n_heads, head_stride, offset, cos, sin, 1.0f);
  if (Tape* tp = recording({&x})) {
    // In place: the output's gradient is rotated back, in place, into the input's.
    tp->record(x, {cos, sin}, [x, n_heads, head_stride, offset, cos, sin](Tape& t) {
      Tensor* g = const_cast<Tensor*>(t.find_grad(x));
      if (g) rotate_interleaved(*g, n_heads, head_stride, offset, cos, sin, -1.0f);
    });
  }
}

Tensor head_columns(const Tensor& x, int64_t n_heads, int64_t c0, int64_t n) {
  const int64_t T = x.dim(0), W = x.dim(1) / n_heads;
  if (x.dtype != DType::F32 || x.ndim() != 2 || x.dim(1) % n_heads || c0 < 0 || c0 + n > W)
    fail_internal("head_columns: columns [", c0, ", ", c0 + n, ") of ", n_heads, " heads of ",
                  x.shape_str());
  Tensor y = Tensor::zeros(DType::F32, {T, n_heads * n});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < n_heads; ++h)
      std::copy_n(x.ptr<float>() + t * x.dim(1) + h * W + c0, n,
                  y.ptr<float>() + (t * n_heads + h) * n);
  if (Tape* tp = recording({&x})) {
    tp->record(y, {x}, [x, n_heads, c0, n, y](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      Tensor& d = t.grad(x);
      const int64_t T = x.dim(0), W = x.dim(1) / n_heads;
      for (int64_t r = 0; r < T; ++r)
        for (int64_t h = 0; h < n_heads; ++h)
          K().add(d.ptr<float>() + r * x.dim(1) + h * W + c0,
                  g->ptr<float>() + (r * n_heads + h) * n,
                  d.ptr<float>() + r * x.dim(1) + h * W + c0, n);
    });
  }
  return y;
}

Tensor columns(const Tensor& x, int64_t c0, int64_t n) {
  return head_columns(x, 1, c0, n);
}

Tensor concat_heads(const Tensor& a, const Tensor& b, int64_t n_heads, bool b_shared) {
  const int64_t T = a.dim(0), da = a.dim(1) / n_heads, b_heads = b_shared ? 1 : n_heads;
  if (a.dtype != DType::F32 || b.dtype != DType::F32 || a.ndim() != 2 || b.ndim() != 2 ||
      b.dim(0) != T || a.dim(1) % n_heads || b.dim(1) % b_heads)
    fail_internal("concat_heads: ", a.shape_str(), " and ", b.shape_str(), " in ", n_heads,
                  " heads");
  const int64_t db = b.dim(1) / b_heads, w = da + db;
  Tensor y = Tensor::zeros(DType::F32, {T, n_heads * w});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < n_heads; ++h) {
      float* o = y.ptr<float>() + (t * n_heads + h) * w;
      std::copy_n(a.ptr<float>() + t * a.dim(1) + h * da, da, o);
      std::copy_n(b.ptr<float>() + t * b.dim(1) + (b_heads == 1 ? 0 : h * db), db, o + da);
    }
  if (Tape* tp = recording({&a, &b})) {
    tp->record(y, {a, b}, [a, b, n_heads, b_heads, da, db, y](Tape& t) {
      const Tensor* g = t.find_grad(y);
      if (!g) return;
      float* ga = t.tracked(a) ? t.grad(a).ptr<float>() : nullptr;
      float* gb = t.tracked(b) ? t.grad(b).ptr<float>() : nullptr;
      const int64_t T = a.dim(0), w = da + db;
      for (int64_t r = 0; r < T; ++r)
        for (int64_t h = 0; h < n_heads; ++h) {
          const float* gi = g->ptr<float>() + (r * n_heads + h) * w;
          if (ga) {
            float* d = ga + r * a.dim(1) + h * da;
            K().add(d, gi, d, da);
          }
          if (gb) {
            float* d = gb + r * b.dim(1) + (b_heads == 1 ? 0 : h * db);
            K().add(d, gi + da, d, db);
          }
        }
    });
  }
  return y;
}

Tensor concat_columns(const Tensor& a, const Tensor& b) {
  return concat_heads(a, b, 1);
}

namespace {

bool fp8_kv_b(const Weight& kv_b, const MlaShape& s) {
  return kv_b.w.dtype == DType::F8_E4M3 && kv_b.scale.defined() && kv_b.w.is_contiguous() &&
         s.lora % kv_b.block_k == 0;
}

// Whether every head's value rows of an fp8 kv_b are a slice the kernels can read in place.
bool fp8_value_slices(const Weight& kv_b, const MlaShape& s) {
  const int64_t kvw = s.nope + s.v;
  if (!fp8_kv_b(kv_b, s)) return false;
  for (int64_t h = 0; h < s.n_heads; ++h)
    if (fp8_slice_block(h * kvw + s.nope, s.v, kv_b.block_n) == 0) return false;
  return true;
}

}  // namespace

Weight mla_key_transposed(const Weight& kv_b, const MlaShape& s) {
  if (!fp8_kv_b(kv_b, s)) return Weight{};
  const int64_t H = s.n_heads, R = s.lora, kvw = s.nope + s.v, bn = kv_b.block_n, bk = kv_b.block_k;
  R1_ASSERT(kv_b.rows() == H * kvw && kv_b.cols() == R);
  // The transposed weight's column blocks (kb columns = kb original rows): nope when every head's
  // key rows lie inside one block, else bn when they all start a block; otherwise no copy.
  bool inside = true, starts = true;
  for (int64_t h = 0; h < H; ++h) {
    inside = inside && (h * kvw) / bn == (h * kvw + s.nope - 1) / bn;
    starts = starts && (h * kvw) % bn == 0;
  }
  const int64_t kb = inside ? s.nope : starts ? bn : 0;
  if (kb == 0) return Weight{};
  Weight t;
  t.w = Tensor::empty(DType::F8_E4M3, {H * R, s.nope});
  t.block_n = bk;  // the transposed blocks: latent columns become rows and the other way round
  t.block_k = kb;
  t.scale = Tensor::empty(DType::F32, {H * R / bk, (s.nope + kb - 1) / kb});
  const int64_t ld_in = kv_b.scale.dim(1), ld_out = t.scale.dim(1);
  std::atomic<bool> nan{false};
  thread_pool().parallel_for(H, [&](int64_t h) {
    const uint8_t* src = static_cast<const uint8_t*>(kv_b.w.row(h * kvw));
    uint8_t* dst = static_cast<uint8_t*>(t.w.row(h * R));
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < s.nope; ++i) dst[r * s.nope + i] = src[i * R + r];
    for (int64_t rb = 0; rb < R / bk; ++rb)
      for (int64_t ib = 0; ib < ld_out; ++ib)  // column block ib: rows h kvw + ib kb onwards
        t.scale.ptr<float>()[(h * R / bk + rb) * ld_out + ib] =
            kv_b.scale.ptr<float>()[((h * kvw + ib * kb) / bn) * ld_in + rb];
    if (kernels::fp8_has_nan(dst, R * s.nope)) nan = true;
  });
  t.fp8_scan = std::make_shared<Fp8Scan>();
  t.fp8_scan->data = t.w.data;
  t.fp8_scan->no_nan = !nan;
  return t;
}

Tensor mla_absorbed(const Tensor& q, const Weight& kv_b, const MlaShape& s,
                    const std::vector<LatentSpan>& spans, const std::vector<int32_t>& pos,
                    const Weight* key_t) {
  if (recording({&q})) fail_internal("mla_absorbed: attention over a latent cache has no backward");
  const int64_t T = q.dim(0), H = s.n_heads, qw = s.nope + s.rope, kvw = s.nope + s.v;
  const int64_t R = s.lora;
  R1_ASSERT(kv_b.rows() == H * kvw && kv_b.cols() == R && q.dim(1) == H * qw);
  if (key_t && !key_t->w.defined()) key_t = nullptr;
  R1_ASSERT(!key_t || (key_t->rows() == H * R && key_t->cols() == s.nope));
  // Each head's query against the latent rows, [q_lat | q_pe]                [T, H, lora + rope]
  //   q_lat[t, h] = sum_i q_nope[t, h, i] * W_k[h][i, :]
  const int64_t D = R + s.rope;
  Tensor q_cat = Tensor::zeros(DType::F32, {T, H * D});
  const bool key_no_nan = key_t && fp8_no_nan(*key_t);
  thread_pool().parallel_for(H, [&](int64_t h) {
    float* qh = q_cat.ptr<float>() + h * D;
    for (int64_t t = 0; t < T; ++t)
      std::copy_n(q.ptr<float>() + t * q.dim(1) + h * qw + s.nope, s.rope, qh + t * H * D + R);
    if (key_t) {  // one fused product with the transposed key half
      weight_rows_product(q.ptr<float>() + h * qw, q.dim(1), T, *key_t, h * R, (h + 1) * R,
                          key_no_nan, qh, H * D);
      return;
    }
    std::vector<float> wrow(R);
    for (int64_t i = 0; i < s.nope; ++i) {
      widen_rows(kv_b, h * kvw + i, 1, wrow.data());
      for (int64_t t = 0; t < T; ++t)
        K().axpy(q.ptr<float>()[t * q.dim(1) + h * qw + i], wrow.data(), qh + t * H * D, R);
    }
  });
  // o_lat[t, h] = sum_j softmax_j(scale * (q_lat . c_j + q_pe . k_pe_j)) c_j   [T, H, lora]
  // All heads attend to the same latent rows: a task takes a group of heads (as many groups as
  // keep the threads busy) of a tile of a prompt's consecutive tokens (about kMlaTileRows query
  // rows), whose queries read each row once.
  Tensor o_lat = Tensor::zeros(DType::F32, {T, H * R});
  const auto tiles =
      prompt_tiles(pos, std::max<int64_t>(1, kMlaTileRows / H), H,
                   [&](int64_t a, int64_t b) { return same_rows(spans[a].rows, spans[b].rows); });
  const int64_t n_tiles = static_cast<int64_t>(tiles.size());
  const int64_t splits = std::clamp<int64_t>(thread_pool().size() / n_tiles, 1, H);
  const int64_t per = (H + splits - 1) / splits;
  thread_pool().parallel_for(n_tiles * splits, [&](int64_t task) {
    const auto [t0, t1] = tiles[static_cast<size_t>(n_tiles - 1 - task / splits)];  // longest first
    const int64_t h0 = task % splits * per, G = std::min(per, H - h0);
    if (G <= 0) return;
    attend_tile(q_cat.ptr<float>() + (t0 * H + h0) * D, H * D, G, D, spans[t0].rows, 0,
                spans[t0].rows, 0, R, pos.data() + t0, t1 - t0, s.scale,
                o_lat.ptr<float>() + (t0 * H + h0) * R, H * R);
  });
  // out[t, h] = o_lat[t, h] . W_v[h]^T                          [T, H, v]
  Tensor out = Tensor::zeros(DType::F32, {T, H * s.v});
  // W_v[h] read in place where its rows are a weight of their own: fp8 in whole blocks, or a
  // plain float type (block-quantized types would quantize o_lat; those widen as before).
  const DType kt = kv_b.w.dtype;
  const bool value_rows =
      fp8_value_slices(kv_b, s) || (!kv_b.scale.defined() && kv_b.w.is_contiguous() &&
                                    (kt == DType::F32 || kt == DType::BF16 || kt == DType::F16));
  const bool kv_no_nan = value_rows && fp8_no_nan(kv_b);
  thread_pool().parallel_for(H, [&](int64_t h) {
    if (value_rows) {  // W_v[h] read in place
      weight_rows_product(o_lat.ptr<float>() + h * R, H * R, T, kv_b, h * kvw + s.nope,
                          (h + 1) * kvw, kv_no_nan, out.ptr<float>() + h * s.v, H * s.v);
      return;
    }
    std::vector<float> wv(s.v * R);
    widen_rows(kv_b, h * kvw + s.nope, s.v, wv.data());
    kernels::GemmParams g;
    g.M = T;
    g.K = R;
    g.x = o_lat.ptr<float>() + h * R;
    g.ldx = H * R;
    g.w = wv.data();
    g.ldw = R;
    g.wtype = DType::F32;
    g.y = out.ptr<float>() + h * s.v;
    g.ldy = H * s.v;
    g.n_begin = 0;
    g.n_end = s.v;
    K().gemm(g);
  });
  return out;
}

Tensor mla_naive(const Tensor& q, const Weight& kv_b, const MlaShape& s,
                 const std::vector<LatentSpan>& spans, const std::vector<int32_t>& pos) {
  if (recording({&q})) fail_internal("mla_naive: attention over a latent cache has no backward");
  const int64_t T = q.dim(0), H = s.n_heads, qw = s.nope + s.rope, kvw = s.nope + s.v;
  const int64_t R = s.lora;
  // Expand keys and values of every cached position of each sequence once.
  // A sequence is known by its block table.
  std::map<const float* const*, int64_t> longest;  // sequence -> positions needed
  for (int64_t t = 0; t < T; ++t)
    longest[spans[t].rows.blocks] = std::max<int64_t>(longest[spans[t].rows.blocks], pos[t] + 1);
  std::map<const float* const*, Tensor> kv;  // sequence -> [n, H * (nope + v)]
  for (int64_t t = 0; t < T; ++t) {
    const RowBlocks& rows = spans[t].rows;
    if (kv.count(rows.blocks)) continue;
    const int64_t n = longest[rows.blocks];
    Tensor c = Tensor::zeros(DType::F32, {n, R});
    for (int64_t j = 0; j < n; ++j) {
      float* dst = c.ptr<float>() + j * R;
      const float* src = rows.get(j, 0, R, dst);
      if (src != dst) std::copy_n(src, R, dst);
    }
    kv[rows.blocks] = linear(c, kv_b);
  }
  Tensor out = Tensor::zeros(DType::F32, {T, H * s.v});
  std::vector<float> k(qw), p, tmp(s.rope);
  for (int64_t t = 0; t < T; ++t) {
    const Tensor& e = kv[spans[t].rows.blocks];
    const int64_t n = pos[t] + 1;
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = q.ptr<float>() + t * q.dim(1) + h * qw;
      p.resize(n);
      for (int64_t j = 0; j < n; ++j) {
        std::copy_n(e.ptr<float>() + j * H * kvw + h * kvw, s.nope, k.data());
        std::copy_n(spans[t].rows.get(j, R, s.rope, tmp.data()), s.rope, k.data() + s.nope);
        p[j] = s.scale * K().dot(qh, k.data(), qw);
      }
      K().softmax(p.data(), n);
      float* o = out.ptr<float>() + t * H * s.v + h * s.v;
      for (int64_t j = 0; j < n; ++j)
        K().axpy(p[j], e.ptr<float>() + j * H * kvw + h * kvw + s.nope, o, s.v);
    }
  }
  return out;
}

}  // namespace r1::ops
