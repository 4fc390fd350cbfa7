#include "models/deepseek_v3.h"

#include <cmath>

#include "core/error.h"
#include "models/rope.h"
#include "ops/ops.h"
#include "ops/tape.h"

namespace r1::models {

DeepseekV3Model::DeepseekV3Model(const io::ModelConfig& cfg, io::WeightStore store,
                                 const LoadOptions& opt)
    : cfg_(cfg), store_(std::move(store)) {
  const auto& d = cfg_.ds;
  max_context_ = opt.max_context > 0 ? opt.max_context : cfg_.max_position_embeddings;
  // The MTP layer: index num_hidden_layers, loaded when present (docs/FACTS.md section 2).
  has_mtp_ = d.num_nextn_predict_layers > 0 &&
             store_.has("model.layers." + std::to_string(cfg_.n_layers) + ".eh_proj.weight");
  w_ = Weights(cfg_, store_, io::tensor_table(cfg_, has_mtp_));
  inv_freq_ = rope_inv_freq(d.qk_rope_head_dim, cfg_.rope_theta, cfg_.rope_scaling);
  rope_factor_ = static_cast<float>(rope_attention_factor(cfg_.rope_scaling));
  // Softmax scale: (nope + rope)^-0.5, times yarn_mscale(factor, mscale_all_dim)^2 as HF applies
  // it whenever rope_scaling is yarn (the official demo only when max_seq_len exceeds the
  // original context; docs/FACTS.md section 2).
  double scale = 1.0 / std::sqrt(static_cast<double>(d.qk_nope_head_dim + d.qk_rope_head_dim));
  if (cfg_.rope_scaling.type == "yarn" && cfg_.rope_scaling.mscale_all_dim != 0) {
    const double m = yarn_mscale(cfg_.rope_scaling.factor, cfg_.rope_scaling.mscale_all_dim);
    scale *= m * m;
  }
  mla_ = {cfg_.n_heads, d.qk_nope_head_dim, d.qk_rope_head_dim,
          d.v_head_dim, d.kv_lora_rank,     static_cast<float>(scale)};
  // fp8 kv_b_proj: its key half transposed once per layer for the absorbed attention (undefined
  // for other dtypes, which the absorbed path widens as it goes).
  for (int layer = 0; layer < cfg_.n_layers + (has_mtp_ ? 1 : 0); ++layer)
    key_t_.push_back(ops::mla_key_transposed(w_.get(io::Role::KvB, layer), mla_));
  routing_.n_group = d.n_group;
  routing_.topk_group = d.topk_group;
  routing_.top_k = d.experts_per_tok;
  routing_.norm_topk_prob = d.norm_topk_prob;
  routing_.routed_scaling_factor = static_cast<float>(d.routed_scaling_factor);
}

KvCache DeepseekV3Model::new_cache() const {
  // One latent row (c | k_pe) per token per layer; the MTP layer has a cache layer of its own.
  return KvCache(cfg_.n_layers + (has_mtp_ ? 1 : 0), mla_.lora + mla_.rope, 0, max_context_);
}

Tensor DeepseekV3Model::attention(int layer, const Tensor& h, const Batch& b, const Tensor& cos,
                                  const Tensor& sin, KvCache* cache) {
  using io::Role;
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const int64_t R = mla_.lora, nh = mla_.n_heads;
  Tensor q = cfg_.ds.q_lora_rank > 0 ? project(ops::rms_norm(project(h, w_.get(Role::QA, layer)),
                                                             w_.tensor(Role::QANorm, layer), eps),
                                               w_.get(Role::QB, layer))
                                     : project(h, w_.get(Role::Q, layer));  // [T, H*(nope+rope)]
  ops::rope_interleaved(q, nh, mla_.nope + mla_.rope, mla_.nope, cos, sin);
  Tensor kv = project(h, w_.get(Role::KvA, layer));  // [T, lora + rope]
  Tensor c = ops::rms_norm(ops::columns(kv, 0, R), w_.tensor(Role::KvANorm, layer),
                           eps);                 // [T, lora]
  Tensor k_pe = ops::columns(kv, R, mla_.rope);  // [T, rope], one head shared by all
  ops::rope_interleaved(k_pe, 1, mla_.rope, 0, cos, sin);
  const ops::Weight& kv_b = w_.get(Role::KvB, layer);
  const ops::Weight& o = w_.get(Role::O, layer);
  if (!cache) {
    // Full sequences (training, scoring): the naive form over the batch itself. Per head
    // k = [k_nope_h, k_pe] and v_h, both from kv_b_proj of the latent.
    Tensor e = project(c, kv_b);  // [T, H*(nope+v)]
    Tensor k = ops::concat_heads(ops::head_columns(e, nh, 0, mla_.nope), k_pe, nh, true);
    Tensor v = ops::head_columns(e, nh, mla_.nope, mla_.v);
    Tensor out = ops::causal_attention(q, k, v, nh, nh, mla_.nope + mla_.rope, mla_.v,
                                       ops::sequence_starts(b.pos), mla_.scale);  // [T, H*v]
    return project(out, o);
  }
  write_cache(*cache, layer, b, c, 0, /*values=*/false);
  write_cache(*cache, layer, b, k_pe, R, /*values=*/false);
  std::vector<ops::LatentSpan> spans(b.tokens.size());
  for (size_t t = 0; t < spans.size(); ++t) spans[t] = {cache->k_rows(layer, b.seq[t])};
  Tensor out = naive_ ? ops::mla_naive(q, kv_b, mla_, spans, b.pos)
                      : ops::mla_absorbed(q, kv_b, mla_, spans, b.pos,
                                          &key_t_[static_cast<size_t>(layer)]);  // [T, H*v]
  return project(out, o);                                                        // [T, hidden]
}

Tensor DeepseekV3Model::ffn(int layer, const Tensor& h) {
  using io::Role;
  if (!cfg_.ds.is_moe_layer(layer))
    return swiglu(h, w_.get(Role::Gate, layer), w_.get(Role::Up, layer), w_.get(Role::Down, layer));
  const int64_t T = h.dim(0), Hd = h.dim(1), E = cfg_.ds.n_routed_experts;
  // Router logits in f32 from the stored (bf16) gate weight widened exactly, with f32 inputs
  // even where bf16 dot products are on (HF computes them in f32: a rounded input could flip an
  // expert). The selection is discrete; the chosen experts' weights carry the gradient back.
  Tensor logits = ops::linear_exact(h, w_.get(Role::Router, layer));
  const Tensor* bias = w_.maybe(Role::RouterBias, layer);
  const auto choice = ops::route_experts(logits, bias ? *bias : Tensor(), routing_);
  Tensor weights = ops::expert_weights(logits, choice, routing_);  // [T, top_k]
  // Grouped by expert so each selected expert runs once over all of its tokens.
  const auto rows = ops::expert_rows(choice, E);
  const bool shared = w_.find(Role::SharedGate, layer);
  if (!ops::recording({&h}) && !lora()) {
    // Inference: every chosen expert and the shared one (as one more expert over all tokens) in
    // two thread-pool loops.
    std::vector<ops::ExpertRows> all = rows;
    std::vector<ops::ExpertFfn> ffns;
    for (int64_t e = 0; e < E; ++e)
      ffns.push_back({&w_.get(Role::Gate, layer, e), &w_.get(Role::Up, layer, e),
                      &w_.get(Role::Down, layer, e)});
    if (shared) {
      all.emplace_back();
      for (int64_t t = 0; t < T; ++t) all.back().token.push_back(t);
      ffns.push_back({&w_.get(Role::SharedGate, layer), &w_.get(Role::SharedUp, layer),
                      &w_.get(Role::SharedDown, layer)});
    }
    std::vector<Tensor> outs = ops::expert_ffns(h, all, ffns);
    Tensor base = shared ? outs.back() : Tensor::zeros(DType::F32, {T, Hd});
    outs.resize(static_cast<size_t>(E));
    return ops::moe_combine(base, outs, rows, weights);
  }
  std::vector<Tensor> outs(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e)
    if (!rows[e].token.empty())
      outs[e] = swiglu(ops::gather_rows(h, rows[e].token), w_.get(Role::Gate, layer, e),
                       w_.get(Role::Up, layer, e), w_.get(Role::Down, layer, e));
  Tensor base = shared ? swiglu(h, w_.get(Role::SharedGate, layer), w_.get(Role::SharedUp, layer),
                                w_.get(Role::SharedDown, layer))
                       : Tensor::zeros(DType::F32, {T, Hd});
  return ops::moe_combine(base, outs, rows, weights);
}

void DeepseekV3Model::rope(const Batch& b, Tensor* cos, Tensor* sin) const {
  rope_tables(inv_freq_, b.pos, cos, sin);
  if (rope_factor_ != 1.0f)
    for (int64_t i = 0; i < cos->numel(); ++i) {
      cos->ptr<float>()[i] *= rope_factor_;
      sin->ptr<float>()[i] *= rope_factor_;
    }
}

Tensor DeepseekV3Model::layer_forward(int layer, Tensor x, const Batch& b, const Tensor& cos,
                                      const Tensor& sin, KvCache* cache) {
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  // Each branch is computed before x is handed on (x may then change in place).
  Tensor a = attention(layer, ops::rms_norm(x, w_.tensor(io::Role::AttnNorm, layer), eps), b, cos,
                       sin, cache);
  x = ops::add_reuse(std::move(x), a);
  Tensor f = ffn(layer, ops::rms_norm(x, w_.tensor(io::Role::FfnNorm, layer), eps));
  return ops::add_reuse(std::move(x), f);
}

Tensor DeepseekV3Model::run_layers(const Batch& b, KvCache* cache) {
  begin_batch(b, cache);
  Tensor cos, sin;  // rotary tables of the batch's positions, shared by every layer
  rope(b, &cos, &sin);
  Tensor x = ops::embedding(w_.tensor(io::Role::Embed), b.tokens);  // [T, hidden]
  for (int l = 0; l < cfg_.n_layers; ++l) x = layer_forward(l, std::move(x), b, cos, sin, cache);
  end_batch(b, cache);
  return x;
}

Tensor DeepseekV3Model::forward_hidden(const Batch& b, KvCache& cache, Tensor* hidden) {
  Tensor h = ops::rms_norm(run_layers(b, &cache), w_.tensor(io::Role::FinalNorm),
                           static_cast<float>(cfg_.rms_norm_eps));
  if (hidden) *hidden = h;
  return ops::linear(ops::gather_rows(h, b.logits_for),
                     w_.get(io::Role::LmHead));  // [n_logits, vocab]
}

Tensor DeepseekV3Model::forward(const Batch& b, KvCache& cache) {
  return forward_hidden(b, cache, nullptr);
}

Tensor DeepseekV3Model::mtp_forward(const Tensor& hidden, const std::vector<int32_t>& next,
                                    const std::vector<int32_t>& pos,
                                    const std::vector<int32_t>& seq, KvCache& cache) {
  if (!has_mtp_) fail_usage("this checkpoint has no MTP layer (model.layers.", cfg_.n_layers, ")");
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  using io::Role;
  const int mtp = static_cast<int>(cfg_.n_layers);
  Tensor e = ops::rms_norm(ops::embedding(w_.tensor(Role::MtpEmbed, mtp), next),
                           w_.tensor(Role::MtpEnorm, mtp), eps);          // [T, H]
  Tensor h = ops::rms_norm(hidden, w_.tensor(Role::MtpHnorm, mtp), eps);  // [T, H]
  Tensor cat = ops::concat_columns(e, h);                                 // [enorm(e), hnorm(h)]
  Batch b;
  b.tokens = next;
  b.pos = pos;
  b.seq = seq;
  begin_batch(b, &cache);
  Tensor cos, sin;
  rope(b, &cos, &sin);
  Tensor x =
      layer_forward(mtp, ops::linear(cat, w_.get(Role::MtpEhProj, mtp)), b, cos, sin, &cache);
  return ops::linear(ops::rms_norm(x, w_.tensor(Role::MtpHeadNorm, mtp), eps),
                     w_.get(Role::MtpHead, mtp));  // [T, vocab]
}

Tensor DeepseekV3Model::final_hidden(const Batch& b) {
  return ops::rms_norm(run_layers(b, nullptr), w_.tensor(io::Role::FinalNorm),
                       static_cast<float>(cfg_.rms_norm_eps));
}

int64_t DeepseekV3Model::absorbed_cache_bytes_per_token() const {
  return cfg_.n_layers * (mla_.lora + mla_.rope) * 4;
}

int64_t DeepseekV3Model::naive_cache_bytes_per_token() const {
  return cfg_.n_layers * mla_.n_heads * (mla_.nope + mla_.rope + mla_.v) * 4;
}

}  // namespace r1::models
