#include "models/dense.h"

#include <cmath>

#include "core/error.h"
#include "models/rope.h"
#include "ops/ops.h"

namespace r1::models {

DenseModel::DenseModel(const io::ModelConfig& cfg, io::WeightStore store, const LoadOptions& opt)
    : cfg_(cfg), store_(std::move(store)) {
  max_context_ = opt.max_context > 0 ? opt.max_context : cfg_.max_position_embeddings;
  w_ = Weights(cfg_, store_, io::tensor_table(cfg_));
  inv_freq_ = rope_inv_freq(cfg_.head_dim, cfg_.rope_theta, cfg_.rope_scaling);
}

KvCache DenseModel::new_cache() const {
  const int64_t kv_dim = cfg_.n_kv_heads * cfg_.head_dim;
  KvCache cache(cfg_.n_layers, kv_dim, kv_dim, max_context_);
  cache.set_segment(cfg_.head_dim);
  return cache;
}

Tensor DenseModel::attention_block(int layer, const Tensor& x, const Batch& b, const Tensor& cos,
                                   const Tensor& sin, KvCache* cache) {
  using io::Role;
  const int64_t D = cfg_.head_dim;
  Tensor h =
      ops::rms_norm(x, w_.tensor(Role::AttnNorm, layer), static_cast<float>(cfg_.rms_norm_eps));
  Tensor q = project(h, w_.get(Role::Q, layer), w_.maybe(Role::QBias, layer));  // [T, n_heads*D]
  Tensor k = project(h, w_.get(Role::K, layer), w_.maybe(Role::KBias, layer));  // [T, n_kv*D]
  Tensor v = project(h, w_.get(Role::V, layer), w_.maybe(Role::VBias, layer));  // [T, n_kv*D]
  ops::rope_half(q, cfg_.n_heads, cos, sin);
  ops::rope_half(k, cfg_.n_kv_heads, cos, sin);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const ops::Weight& wo = w_.get(Role::O, layer);
  if (!cache) {
    Tensor att = ops::causal_attention(q, k, v, cfg_.n_heads, cfg_.n_kv_heads, D, D,
                                       ops::sequence_starts(b.pos), scale);
    return project(att, wo);
  }
  write_cache(*cache, layer, b, k, 0, /*values=*/false);
  write_cache(*cache, layer, b, v, 0, /*values=*/true);
  std::vector<ops::KvSpan> spans(b.tokens.size());
  for (size_t t = 0; t < spans.size(); ++t)
    spans[t] = {cache->k_rows(layer, b.seq[t]), cache->v_rows(layer, b.seq[t])};
  Tensor att = ops::attention(q, cfg_.n_heads, cfg_.n_kv_heads, D, spans, b.pos,
                              scale);  // [T, n_heads*D]
  return project(att, wo);             // [T, hidden]
}

Tensor DenseModel::mlp_block(int layer, const Tensor& x) {
  using io::Role;
  Tensor h =
      ops::rms_norm(x, w_.tensor(Role::FfnNorm, layer), static_cast<float>(cfg_.rms_norm_eps));
  return swiglu(h, w_.get(Role::Gate, layer), w_.get(Role::Up, layer), w_.get(Role::Down, layer),
                w_.maybe(Role::GateBias, layer), w_.maybe(Role::UpBias, layer),
                w_.maybe(Role::DownBias, layer));  // [T, hidden]
}

Tensor DenseModel::run_layers(const Batch& b, KvCache* cache) {
  begin_batch(b, cache);
  Tensor cos, sin;
  rope_tables(inv_freq_, b.pos, &cos, &sin);
  Tensor x = ops::embedding(w_.tensor(io::Role::Embed), b.tokens);  // [T, hidden]
  for (int l = 0; l < cfg_.n_layers; ++l) {
    Tensor a = attention_block(l, x, b, cos, sin, cache);
    x = ops::add_reuse(std::move(x), a);
    Tensor m = mlp_block(l, x);
    x = ops::add_reuse(std::move(x), m);
  }
  end_batch(b, cache);
  return x;
}

Tensor DenseModel::final_hidden(const Batch& b) {
  return ops::rms_norm(run_layers(b, nullptr), w_.tensor(io::Role::FinalNorm),
                       static_cast<float>(cfg_.rms_norm_eps));
}

Tensor DenseModel::forward(const Batch& b, KvCache& cache) {
  Tensor x = run_layers(b, &cache);
  Tensor sel = ops::gather_rows(x, b.logits_for);  // [n_logits, hidden]
  Tensor h =
      ops::rms_norm(sel, w_.tensor(io::Role::FinalNorm), static_cast<float>(cfg_.rms_norm_eps));
  return ops::linear(h, w_.get(io::Role::LmHead));  // [n_logits, vocab]
}

}  // namespace r1::models
