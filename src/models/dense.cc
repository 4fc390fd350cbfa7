#include "models/dense.h"

#include <cmath>

#include "core/error.h"
#include "models/checked_weights.h"
#include "models/rope.h"
#include "ops/ops.h"

namespace r1::models {

DenseModel::DenseModel(const io::ModelConfig& cfg, io::WeightStore store, const LoadOptions& opt)
    : cfg_(cfg), store_(std::move(store)) {
  max_context_ = opt.max_context > 0 ? opt.max_context : cfg_.max_position_embeddings;
  const int64_t H = cfg_.hidden, D = cfg_.head_dim, I = cfg_.intermediate;
  const int64_t q_dim = cfg_.n_heads * D, kv_dim = cfg_.n_kv_heads * D;
  embed_ = matrix_tensor(store_, "model.embed_tokens.weight", {cfg_.vocab, H});
  final_norm_ = float_tensor(store_, "model.norm.weight", {H});
  if (cfg_.tie_word_embeddings) {
    lm_head_ = embed_;
  } else {
    lm_head_ = matrix_tensor(store_, "lm_head.weight", {cfg_.vocab, H});
  }
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    DenseLayer L;
    L.attn_norm = float_tensor(store_, p + "input_layernorm.weight", {H});
    L.ffn_norm = float_tensor(store_, p + "post_attention_layernorm.weight", {H});
    L.wq = matrix_tensor(store_, p + "self_attn.q_proj.weight", {q_dim, H});
    L.wk = matrix_tensor(store_, p + "self_attn.k_proj.weight", {kv_dim, H});
    L.wv = matrix_tensor(store_, p + "self_attn.v_proj.weight", {kv_dim, H});
    L.wo = matrix_tensor(store_, p + "self_attn.o_proj.weight", {H, q_dim});
    if (cfg_.attention_bias) {
      L.bq = float_tensor(store_, p + "self_attn.q_proj.bias", {q_dim});
      L.bk = float_tensor(store_, p + "self_attn.k_proj.bias", {kv_dim});
      L.bv = float_tensor(store_, p + "self_attn.v_proj.bias", {kv_dim});
    }
    L.w_gate = matrix_tensor(store_, p + "mlp.gate_proj.weight", {I, H});
    L.w_up = matrix_tensor(store_, p + "mlp.up_proj.weight", {I, H});
    L.w_down = matrix_tensor(store_, p + "mlp.down_proj.weight", {H, I});
    layers_.push_back(std::move(L));
  }
  inv_freq_ = rope_inv_freq(D, cfg_.rope_theta, cfg_.rope_scaling);
}

KvCache DenseModel::new_cache() const {
  const int64_t kv_dim = cfg_.n_kv_heads * cfg_.head_dim;
  return KvCache(cfg_.n_layers, kv_dim, kv_dim, max_context_);
}

Tensor DenseModel::attention_block(const DenseLayer& L, int layer, const Tensor& x, const Batch& b,
                                   const Tensor& cos, const Tensor& sin, KvCache* cache) {
  const int64_t T = x.dim(0), D = cfg_.head_dim, kv_dim = cfg_.n_kv_heads * D;
  Tensor h = ops::rms_norm(x, L.attn_norm, static_cast<float>(cfg_.rms_norm_eps));
  Tensor q = project(h, L.wq, L.bq.defined() ? &L.bq : nullptr);  // [T, n_heads*D]
  Tensor k = project(h, L.wk, L.bk.defined() ? &L.bk : nullptr);  // [T, n_kv*D]
  Tensor v = project(h, L.wv, L.bv.defined() ? &L.bv : nullptr);  // [T, n_kv*D]
  ops::rope_half(q, cfg_.n_heads, cos, sin);
  ops::rope_half(k, cfg_.n_kv_heads, cos, sin);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  if (!cache) {
    Tensor att = ops::causal_attention(q, k, v, cfg_.n_heads, cfg_.n_kv_heads, D, D,
                                       ops::sequence_starts(b.pos), scale);
    return project(att, L.wo);
  }
  std::vector<ops::KvSpan> spans(T);
  for (int64_t t = 0; t < T; ++t) {
    cache->write_k(layer, b.seq[t], b.pos[t], k.ptr<float>() + t * kv_dim, 0, kv_dim);
    cache->write_v(layer, b.seq[t], b.pos[t], v.ptr<float>() + t * kv_dim, 0, kv_dim);
    spans[t] = {cache->k_rows(layer, b.seq[t]), cache->v_rows(layer, b.seq[t])};
  }
  Tensor att = ops::attention(q, cfg_.n_heads, cfg_.n_kv_heads, D, spans, b.pos,
                              scale);  // [T, n_heads*D]
  return project(att, L.wo);           // [T, hidden]
}

Tensor DenseModel::mlp_block(const DenseLayer& L, const Tensor& x) {
  Tensor h = ops::rms_norm(x, L.ffn_norm, static_cast<float>(cfg_.rms_norm_eps));
  Tensor g = project(h, L.w_gate);                                 // [T, inter]
  Tensor u = project(h, L.w_up);                                   // [T, inter]
  return project(ops::silu_mul_reuse(std::move(g), u), L.w_down);  // [T, hidden]
}

Tensor DenseModel::run_layers(const Batch& b, KvCache* cache) {
  const int64_t T = static_cast<int64_t>(b.tokens.size());
  R1_ASSERT(b.pos.size() == b.tokens.size() && b.seq.size() == b.tokens.size());
  if (cache)
    for (int64_t t = 0; t < T; ++t) cache->reserve(b.seq[t], b.pos[t] + 1);
  Tensor cos, sin;
  rope_tables(inv_freq_, b.pos, &cos, &sin);
  Tensor x = ops::embedding(embed_, b.tokens);  // [T, hidden]
  for (size_t l = 0; l < layers_.size(); ++l) {
    Tensor a = attention_block(layers_[l], static_cast<int>(l), x, b, cos, sin, cache);
    x = ops::add_reuse(std::move(x), a);
    Tensor m = mlp_block(layers_[l], x);
    x = ops::add_reuse(std::move(x), m);
  }
  if (cache)
    for (int64_t t = 0; t < T; ++t)
      if (b.pos[t] + 1 > cache->length(b.seq[t])) cache->set_length(b.seq[t], b.pos[t] + 1);
  return x;
}

Tensor DenseModel::final_hidden(const Batch& b) {
  return ops::rms_norm(run_layers(b, nullptr), final_norm_, static_cast<float>(cfg_.rms_norm_eps));
}

std::vector<ParamSlot> DenseModel::parameter_slots() {
  std::vector<ParamSlot> s = {{"model.embed_tokens.weight", &embed_},
                              {"model.norm.weight", &final_norm_},
                              {cfg_.tie_word_embeddings ? "" : "lm_head.weight", &lm_head_}};
  for (size_t l = 0; l < layers_.size(); ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    DenseLayer& L = layers_[l];
    s.insert(s.end(), {{p + "input_layernorm.weight", &L.attn_norm},
                       {p + "post_attention_layernorm.weight", &L.ffn_norm},
                       {p + "self_attn.q_proj.weight", &L.wq},
                       {p + "self_attn.k_proj.weight", &L.wk},
                       {p + "self_attn.v_proj.weight", &L.wv},
                       {p + "self_attn.o_proj.weight", &L.wo},
                       {p + "self_attn.q_proj.bias", &L.bq},
                       {p + "self_attn.k_proj.bias", &L.bk},
                       {p + "self_attn.v_proj.bias", &L.bv},
                       {p + "mlp.gate_proj.weight", &L.w_gate},
                       {p + "mlp.up_proj.weight", &L.w_up},
                       {p + "mlp.down_proj.weight", &L.w_down}});
  }
  return s;
}

Tensor DenseModel::forward(const Batch& b, KvCache& cache) {
  Tensor x = run_layers(b, &cache);
  Tensor sel = ops::gather_rows(x, b.logits_for);  // [n_logits, hidden]
  Tensor h = ops::rms_norm(sel, final_norm_, static_cast<float>(cfg_.rms_norm_eps));
  return ops::linear(h, lm_head_);  // [n_logits, vocab]
}

uint64_t DenseModel::weight_bytes_per_token() const {
  uint64_t total = lm_head_.nbytes() + final_norm_.nbytes();
  total += embed_.nbytes() / static_cast<uint64_t>(cfg_.vocab);  // one row
  for (const auto& L : layers_)
    for (const Tensor* t : {&L.attn_norm, &L.ffn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.bq, &L.bk,
                            &L.bv, &L.w_gate, &L.w_up, &L.w_down})
      if (t->defined()) total += t->nbytes();
  return total;
}

}  // namespace r1::models
