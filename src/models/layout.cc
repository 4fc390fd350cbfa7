#include "models/layout.h"

namespace r1::models {

namespace {

struct Out {
  std::vector<TensorSpec> v;
  void matrix(const std::string& n, int64_t rows, int64_t cols) {
    v.push_back({n, {rows, cols}, InitKind::Normal});
  }
  void norm(const std::string& n, int64_t size) { v.push_back({n, {size}, InitKind::Ones}); }
  void bias(const std::string& n, int64_t size) { v.push_back({n, {size}, InitKind::Zeros}); }
  void ffn(const std::string& p, int64_t hidden, int64_t inter) {
    matrix(p + "gate_proj.weight", inter, hidden);
    matrix(p + "up_proj.weight", inter, hidden);
    matrix(p + "down_proj.weight", hidden, inter);
  }
};

void dense_layer(Out& o, const io::ModelConfig& c, const std::string& p) {
  const int64_t H = c.hidden, q = c.n_heads * c.head_dim, kv = c.n_kv_heads * c.head_dim;
  o.norm(p + "input_layernorm.weight", H);
  o.norm(p + "post_attention_layernorm.weight", H);
  o.matrix(p + "self_attn.q_proj.weight", q, H);
  o.matrix(p + "self_attn.k_proj.weight", kv, H);
  o.matrix(p + "self_attn.v_proj.weight", kv, H);
  o.matrix(p + "self_attn.o_proj.weight", H, q);
  if (c.attention_bias) {
    o.bias(p + "self_attn.q_proj.bias", q);
    o.bias(p + "self_attn.k_proj.bias", kv);
    o.bias(p + "self_attn.v_proj.bias", kv);
  }
  o.ffn(p + "mlp.", H, c.intermediate);
}

void deepseek_layer(Out& o, const io::ModelConfig& c, int64_t l, const std::string& p) {
  const auto& d = c.ds;
  const int64_t H = c.hidden, nh = c.n_heads, qk = d.qk_nope_head_dim + d.qk_rope_head_dim;
  const std::string a = p + "self_attn.";
  o.norm(p + "input_layernorm.weight", H);
  o.norm(p + "post_attention_layernorm.weight", H);
  if (d.q_lora_rank > 0) {
    o.matrix(a + "q_a_proj.weight", d.q_lora_rank, H);
    o.norm(a + "q_a_layernorm.weight", d.q_lora_rank);
    o.matrix(a + "q_b_proj.weight", nh * qk, d.q_lora_rank);
  } else {
    o.matrix(a + "q_proj.weight", nh * qk, H);
  }
  o.matrix(a + "kv_a_proj_with_mqa.weight", d.kv_lora_rank + d.qk_rope_head_dim, H);
  o.norm(a + "kv_a_layernorm.weight", d.kv_lora_rank);
  o.matrix(a + "kv_b_proj.weight", nh * (d.qk_nope_head_dim + d.v_head_dim), d.kv_lora_rank);
  o.matrix(a + "o_proj.weight", H, nh * d.v_head_dim);
  if (!d.is_moe_layer(l)) {
    o.ffn(p + "mlp.", H, c.intermediate);
    return;
  }
  o.matrix(p + "mlp.gate.weight", d.n_routed_experts, H);
  o.bias(p + "mlp.gate.e_score_correction_bias", d.n_routed_experts);
  for (int64_t e = 0; e < d.n_routed_experts; ++e)
    o.ffn(p + "mlp.experts." + std::to_string(e) + ".", H, d.moe_intermediate);
  if (d.n_shared_experts > 0)
    o.ffn(p + "mlp.shared_experts.", H, d.n_shared_experts * d.moe_intermediate);
}

}  // namespace

std::vector<TensorSpec> checkpoint_layout(const io::ModelConfig& c) {
  Out o;
  o.matrix("model.embed_tokens.weight", c.vocab, c.hidden);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    if (c.arch == io::Arch::DeepseekV3) {
      deepseek_layer(o, c, l, p);
    } else {
      dense_layer(o, c, p);
    }
  }
  o.norm("model.norm.weight", c.hidden);
  if (!c.tie_word_embeddings) o.matrix("lm_head.weight", c.vocab, c.hidden);
  return o.v;
}

}  // namespace r1::models
