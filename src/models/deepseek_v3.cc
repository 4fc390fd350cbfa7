#include "models/deepseek_v3.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "models/checked_weights.h"
#include "models/rope.h"
#include "ops/ops.h"

namespace r1::models {

namespace {

// SwiGLU: down(silu(gate(x)) * up(x)).
Tensor swiglu(const DsFfn& f, const Tensor& x) {
  return ops::linear(ops::silu_mul_reuse(ops::linear(x, f.gate), ops::linear(x, f.up)), f.down);
}

uint64_t ffn_bytes(const DsFfn& f) {
  return f.gate.nbytes() + f.up.nbytes() + f.down.nbytes();
}

}  // namespace

ops::Weight DeepseekV3Model::weight(const std::string& name, int64_t rows, int64_t cols) const {
  return matrix(store_, name, rows, cols, cfg_.ds.fp8_block_out, cfg_.ds.fp8_block_in);
}

DsFfn DeepseekV3Model::load_ffn(const std::string& p, int64_t inter) {
  const int64_t H = cfg_.hidden;
  return {weight(p + "gate_proj", inter, H), weight(p + "up_proj", inter, H),
          weight(p + "down_proj", H, inter)};
}

DsLayer DeepseekV3Model::load_layer(int64_t index) {
  const auto& d = cfg_.ds;
  const int64_t H = cfg_.hidden, nh = cfg_.n_heads;
  const std::string p = "model.layers." + std::to_string(index) + ".";
  DsLayer L;
  L.attn_norm = float_tensor(store_, p + "input_layernorm.weight", {H});
  L.ffn_norm = float_tensor(store_, p + "post_attention_layernorm.weight", {H});
  const std::string a = p + "self_attn.";
  if (d.q_lora_rank > 0) {
    L.q_a = weight(a + "q_a_proj", d.q_lora_rank, H);
    L.q_a_norm = float_tensor(store_, a + "q_a_layernorm.weight", {d.q_lora_rank});
    L.q_b = weight(a + "q_b_proj", nh * (d.qk_nope_head_dim + d.qk_rope_head_dim), d.q_lora_rank);
  } else {
    L.q = weight(a + "q_proj", nh * (d.qk_nope_head_dim + d.qk_rope_head_dim), H);
  }
  L.kv_a = weight(a + "kv_a_proj_with_mqa", d.kv_lora_rank + d.qk_rope_head_dim, H);
  L.kv_a_norm = float_tensor(store_, a + "kv_a_layernorm.weight", {d.kv_lora_rank});
  L.kv_b = weight(a + "kv_b_proj", nh * (d.qk_nope_head_dim + d.v_head_dim), d.kv_lora_rank);
  L.o = weight(a + "o_proj", H, nh * d.v_head_dim);
  // The MTP layer is always an MoE layer in DeepSeek-V3 (its index is past first_k_dense_replace).
  L.moe = d.is_moe_layer(index);
  if (!L.moe) {
    L.mlp = load_ffn(p + "mlp.", cfg_.intermediate);
    return L;
  }
  L.router = float_tensor(store_, p + "mlp.gate.weight", {d.n_routed_experts, H});
  const std::string bias = p + "mlp.gate.e_score_correction_bias";
  if (store_.has(bias)) {
    L.router_bias = store_.get(bias);
    if (L.router_bias.dtype != DType::F32 ||
        L.router_bias.shape != std::vector<int64_t>{d.n_routed_experts})
      fail_input("tensor ", bias, " must be F32 [", d.n_routed_experts, "], got ",
                 dtype_name(L.router_bias.dtype), L.router_bias.shape_str());
  }
  for (int64_t e = 0; e < d.n_routed_experts; ++e)
    L.experts.push_back(load_ffn(p + "mlp.experts." + std::to_string(e) + ".", d.moe_intermediate));
  if (d.n_shared_experts > 0)
    L.shared = load_ffn(p + "mlp.shared_experts.", d.n_shared_experts * d.moe_intermediate);
  return L;
}

DeepseekV3Model::DeepseekV3Model(const io::ModelConfig& cfg, io::WeightStore store,
                                 const LoadOptions& opt)
    : cfg_(cfg), store_(std::move(store)) {
  const auto& d = cfg_.ds;
  max_context_ = opt.max_context > 0 ? opt.max_context : cfg_.max_position_embeddings;
  const int64_t H = cfg_.hidden;
  embed_ = float_tensor(store_, "model.embed_tokens.weight", {cfg_.vocab, H});
  final_norm_ = float_tensor(store_, "model.norm.weight", {H});
  if (cfg_.tie_word_embeddings) {
    lm_head_.w = embed_;
  } else {
    lm_head_ = weight("lm_head", cfg_.vocab, H);
  }
  for (int64_t l = 0; l < cfg_.n_layers; ++l) layers_.push_back(load_layer(l));
  // The MTP layer: index num_hidden_layers, loaded when present (docs/FACTS.md section 2).
  const std::string m = "model.layers." + std::to_string(cfg_.n_layers) + ".";
  has_mtp_ = d.num_nextn_predict_layers > 0 && store_.has(m + "eh_proj.weight");
  if (has_mtp_) {
    mtp_.layer = load_layer(cfg_.n_layers);
    mtp_.enorm = float_tensor(store_, m + "enorm.weight", {H});
    mtp_.hnorm = float_tensor(store_, m + "hnorm.weight", {H});
    mtp_.eh_proj = weight(m + "eh_proj", H, 2 * H);
    mtp_.head_norm = float_tensor(store_, m + "shared_head.norm.weight", {H});
    mtp_.embed = store_.has(m + "embed_tokens.weight")
                     ? float_tensor(store_, m + "embed_tokens.weight", {cfg_.vocab, H})
                     : embed_;
    if (store_.has(m + "shared_head.head.weight")) {
      mtp_.head = weight(m + "shared_head.head", cfg_.vocab, H);
    } else {
      mtp_.head = lm_head_;
    }
  }
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

Tensor DeepseekV3Model::attention(const DsLayer& L, int layer, const Tensor& h, const Batch& b,
                                  const Tensor& cos, const Tensor& sin, KvCache* cache) {
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const int64_t T = h.dim(0), R = mla_.lora, nh = mla_.n_heads;
  Tensor q = cfg_.ds.q_lora_rank > 0
                 ? ops::linear(ops::rms_norm(ops::linear(h, L.q_a), L.q_a_norm, eps), L.q_b)
                 : ops::linear(h, L.q);  // [T, H*(nope+rope)]
  ops::rope_interleaved(q, nh, mla_.nope + mla_.rope, mla_.nope, cos, sin);
  Tensor kv = ops::linear(h, L.kv_a);                                  // [T, lora + rope]
  Tensor c = ops::rms_norm(ops::columns(kv, 0, R), L.kv_a_norm, eps);  // [T, lora]
  Tensor k_pe = ops::columns(kv, R, mla_.rope);  // [T, rope], one head shared by all
  ops::rope_interleaved(k_pe, 1, mla_.rope, 0, cos, sin);
  if (!cache) {
    // Full sequences (training, scoring): the naive form over the batch itself. Per head
    // k = [k_nope_h, k_pe] and v_h, both from kv_b_proj of the latent.
    Tensor e = ops::linear(c, L.kv_b);  // [T, H*(nope+v)]
    Tensor k = ops::concat_heads(ops::head_columns(e, nh, 0, mla_.nope), k_pe, nh, true);
    Tensor v = ops::head_columns(e, nh, mla_.nope, mla_.v);
    Tensor out = ops::causal_attention(q, k, v, nh, nh, mla_.nope + mla_.rope, mla_.v,
                                       ops::sequence_starts(b.pos), mla_.scale);  // [T, H*v]
    return ops::linear(out, L.o);
  }
  std::vector<ops::LatentSpan> spans(T);
  for (int64_t t = 0; t < T; ++t) {
    cache->write_k(layer, b.seq[t], b.pos[t], c.ptr<float>() + t * R, 0, R);
    cache->write_k(layer, b.seq[t], b.pos[t], k_pe.ptr<float>() + t * mla_.rope, R, mla_.rope);
    spans[t] = {cache->k_rows(layer, b.seq[t])};
  }
  Tensor out = naive_ ? ops::mla_naive(q, L.kv_b, mla_, spans, b.pos)
                      : ops::mla_absorbed(q, L.kv_b, mla_, spans, b.pos);  // [T, H*v]
  return ops::linear(out, L.o);                                            // [T, hidden]
}

Tensor DeepseekV3Model::ffn(const DsLayer& L, const Tensor& h) {
  if (!L.moe) return swiglu(L.mlp, h);
  const int64_t T = h.dim(0), Hd = h.dim(1);
  // Router logits in f32 from the stored (bf16) gate weight widened exactly. The selection is
  // discrete; the chosen experts' weights carry the gradient back to the logits.
  Tensor logits = ops::linear(h, L.router);
  const auto choice = ops::route_experts(logits, L.router_bias, routing_);
  Tensor weights = ops::expert_weights(logits, choice, routing_);  // [T, top_k]
  // Grouped by expert so each selected expert runs once over all of its tokens.
  const auto rows = ops::expert_rows(choice, static_cast<int64_t>(L.experts.size()));
  std::vector<Tensor> outs(L.experts.size());
  for (size_t e = 0; e < rows.size(); ++e)
    if (!rows[e].token.empty()) outs[e] = swiglu(L.experts[e], ops::gather_rows(h, rows[e].token));
  Tensor base =
      L.shared.gate.w.defined() ? swiglu(L.shared, h) : Tensor::zeros(DType::F32, {T, Hd});
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

Tensor DeepseekV3Model::layer_forward(const DsLayer& L, int layer, Tensor x, const Batch& b,
                                      const Tensor& cos, const Tensor& sin, KvCache* cache) {
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  // Each branch is computed before x is handed on (x may then change in place).
  Tensor a = attention(L, layer, ops::rms_norm(x, L.attn_norm, eps), b, cos, sin, cache);
  x = ops::add_reuse(std::move(x), a);
  Tensor f = ffn(L, ops::rms_norm(x, L.ffn_norm, eps));
  return ops::add_reuse(std::move(x), f);
}

Tensor DeepseekV3Model::run_layers(const Batch& b, KvCache* cache) {
  const int64_t T = static_cast<int64_t>(b.tokens.size());
  R1_ASSERT(b.pos.size() == b.tokens.size() && b.seq.size() == b.tokens.size());
  if (cache)
    for (int64_t t = 0; t < T; ++t) cache->reserve(b.seq[t], b.pos[t] + 1);
  Tensor cos, sin;  // rotary tables of the batch's positions, shared by every layer
  rope(b, &cos, &sin);
  Tensor x = ops::embedding(embed_, b.tokens);  // [T, hidden]
  for (size_t l = 0; l < layers_.size(); ++l)
    x = layer_forward(layers_[l], static_cast<int>(l), std::move(x), b, cos, sin, cache);
  if (cache)
    for (int64_t t = 0; t < T; ++t)
      if (b.pos[t] + 1 > cache->length(b.seq[t])) cache->set_length(b.seq[t], b.pos[t] + 1);
  return x;
}

Tensor DeepseekV3Model::forward_hidden(const Batch& b, KvCache& cache, Tensor* hidden) {
  Tensor h =
      ops::rms_norm(run_layers(b, &cache), final_norm_, static_cast<float>(cfg_.rms_norm_eps));
  if (hidden) *hidden = h;
  return ops::linear(ops::gather_rows(h, b.logits_for), lm_head_);  // [n_logits, vocab]
}

Tensor DeepseekV3Model::forward(const Batch& b, KvCache& cache) {
  return forward_hidden(b, cache, nullptr);
}

Tensor DeepseekV3Model::mtp_forward(const Tensor& hidden, const std::vector<int32_t>& next,
                                    const std::vector<int32_t>& pos,
                                    const std::vector<int32_t>& seq, KvCache& cache) {
  if (!has_mtp_) fail_usage("this checkpoint has no MTP layer (model.layers.", cfg_.n_layers, ")");
  const float eps = static_cast<float>(cfg_.rms_norm_eps);
  const int64_t T = hidden.dim(0);
  Tensor e = ops::rms_norm(ops::embedding(mtp_.embed, next), mtp_.enorm, eps);  // [T, H]
  Tensor h = ops::rms_norm(hidden, mtp_.hnorm, eps);                            // [T, H]
  Tensor cat = ops::concat_columns(e, h);  // [enorm(e), hnorm(h)]
  Batch b;
  b.tokens = next;
  b.pos = pos;
  b.seq = seq;
  for (int64_t t = 0; t < T; ++t) cache.reserve(seq[t], pos[t] + 1);
  Tensor cos, sin;
  rope(b, &cos, &sin);
  Tensor x = layer_forward(mtp_.layer, static_cast<int>(cfg_.n_layers),
                           ops::linear(cat, mtp_.eh_proj), b, cos, sin, &cache);
  return ops::linear(ops::rms_norm(x, mtp_.head_norm, eps), mtp_.head);  // [T, vocab]
}

void DeepseekV3Model::layer_slots(DsLayer& L, const std::string& p, std::vector<ParamSlot>* out) {
  const std::string a = p + "self_attn.";
  out->insert(out->end(), {{p + "input_layernorm.weight", &L.attn_norm},
                           {p + "post_attention_layernorm.weight", &L.ffn_norm},
                           {a + "q_a_proj.weight", &L.q_a.w},
                           {a + "q_a_layernorm.weight", &L.q_a_norm},
                           {a + "q_b_proj.weight", &L.q_b.w},
                           {a + "q_proj.weight", &L.q.w},
                           {a + "kv_a_proj_with_mqa.weight", &L.kv_a.w},
                           {a + "kv_a_layernorm.weight", &L.kv_a_norm},
                           {a + "kv_b_proj.weight", &L.kv_b.w},
                           {a + "o_proj.weight", &L.o.w}});
  auto ffn = [&](DsFfn& f, const std::string& q) {
    out->insert(out->end(), {{q + "gate_proj.weight", &f.gate.w},
                             {q + "up_proj.weight", &f.up.w},
                             {q + "down_proj.weight", &f.down.w}});
  };
  if (!L.moe) {
    ffn(L.mlp, p + "mlp.");
    return;
  }
  out->push_back({p + "mlp.gate.weight", &L.router});
  out->push_back({p + "mlp.gate.e_score_correction_bias", &L.router_bias, true});
  for (size_t e = 0; e < L.experts.size(); ++e)
    ffn(L.experts[e], p + "mlp.experts." + std::to_string(e) + ".");
  ffn(L.shared, p + "mlp.shared_experts.");
}

std::vector<ParamSlot> DeepseekV3Model::parameter_slots() {
  std::vector<ParamSlot> s = {{"model.embed_tokens.weight", &embed_},
                              {"model.norm.weight", &final_norm_},
                              {cfg_.tie_word_embeddings ? "" : "lm_head.weight", &lm_head_.w}};
  for (size_t l = 0; l < layers_.size(); ++l)
    layer_slots(layers_[l], "model.layers." + std::to_string(l) + ".", &s);
  if (has_mtp_) {
    const std::string m = "model.layers." + std::to_string(cfg_.n_layers) + ".";
    const size_t first_mtp = s.size();
    layer_slots(mtp_.layer, m, &s);
    s.insert(s.end(),
             {{m + "enorm.weight", &mtp_.enorm},
              {m + "hnorm.weight", &mtp_.hnorm},
              {m + "eh_proj.weight", &mtp_.eh_proj.w},
              {m + "shared_head.norm.weight", &mtp_.head_norm},
              {store_.has(m + "embed_tokens.weight") ? m + "embed_tokens.weight" : "", &mtp_.embed},
              {store_.has(m + "shared_head.head.weight") ? m + "shared_head.head.weight" : "",
               &mtp_.head.w}});
    // Saved but not trained: final_hidden (the training forward) does not run the MTP layer.
    for (size_t i = first_mtp; i < s.size(); ++i) s[i].frozen = true;
  }
  return s;
}

Tensor DeepseekV3Model::final_hidden(const Batch& b) {
  return ops::rms_norm(run_layers(b, nullptr), final_norm_, static_cast<float>(cfg_.rms_norm_eps));
}

uint64_t DeepseekV3Model::weight_bytes_per_token() const {
  // One decode token reads every attention and dense weight, the router, the shared experts and
  // top_k routed experts per MoE layer (assuming equally sized experts), lm_head and one
  // embedding row.
  uint64_t total = lm_head_.nbytes() + final_norm_.nbytes() + embed_.nbytes() / cfg_.vocab;
  for (const auto& L : layers_) {
    for (const ops::Weight* w : {&L.q_a, &L.q_b, &L.q, &L.kv_a, &L.kv_b, &L.o})
      if (w->w.defined()) total += w->nbytes();
    for (const Tensor* t :
         {&L.attn_norm, &L.ffn_norm, &L.q_a_norm, &L.kv_a_norm, &L.router, &L.router_bias})
      if (t->defined()) total += t->nbytes();
    if (!L.moe) {
      total += ffn_bytes(L.mlp);
      continue;
    }
    if (L.shared.gate.w.defined()) total += ffn_bytes(L.shared);
    total += static_cast<uint64_t>(routing_.top_k) * ffn_bytes(L.experts[0]);
  }
  return total;
}

int64_t DeepseekV3Model::absorbed_cache_bytes_per_token() const {
  return cfg_.n_layers * (mla_.lora + mla_.rope) * 4;
}

int64_t DeepseekV3Model::naive_cache_bytes_per_token() const {
  return cfg_.n_layers * mla_.n_heads * (mla_.nope + mla_.rope + mla_.v) * 4;
}

}  // namespace r1::models
