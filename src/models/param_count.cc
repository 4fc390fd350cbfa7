#include "models/param_count.h"

namespace r1::models {

namespace {

struct Counter {
  ParamCount& pc;
  int dtype_bytes;
  bool fp8;
  int64_t bo, bi;
  bool active = true;  // whether the tensors counted now are read per decode step
  bool mtp = false;

  void add(uint64_t params, const char* dtype, int bytes) {
    pc.total_params += params;
    if (mtp) pc.mtp_params += params;
    pc.bytes_by_dtype[dtype] += params * bytes;
    if (active && !mtp) {
      pc.active_params += params;
      pc.active_bytes += params * bytes;
    }
  }
  const char* float_name() const {
    return dtype_bytes == 4 ? "F32" : dtype_bytes == 2 ? "BF16" : "?";
  }
  // A vector or a tensor kept in the checkpoint's float dtype.
  void plain(uint64_t n) { add(n, float_name(), dtype_bytes); }
  // A linear weight [out, in]: fp8 + f32 block scales when quantized.
  void linear(int64_t out, int64_t in) {
    if (!fp8) return plain(static_cast<uint64_t>(out) * in);
    add(static_cast<uint64_t>(out) * in, "F8_E4M3", 1);
    uint64_t scales = static_cast<uint64_t>((out + bo - 1) / bo) * ((in + bi - 1) / bi);
    // Scales are not parameters; count their bytes only.
    pc.bytes_by_dtype["F32"] += scales * 4;
    if (active && !mtp) pc.active_bytes += scales * 4;
  }
  void ffn(int64_t h, int64_t inter) {
    linear(inter, h);
    linear(inter, h);
    linear(h, inter);
  }
};

void deepseek_layer(Counter& c, const io::ModelConfig& cfg, int64_t layer) {
  const auto& d = cfg.ds;
  const int64_t H = cfg.hidden, nh = cfg.n_heads;
  c.plain(2 * H);  // input / post-attention norms
  if (d.q_lora_rank > 0) {
    c.linear(d.q_lora_rank, H);
    c.plain(d.q_lora_rank);
    c.linear(nh * (d.qk_nope_head_dim + d.qk_rope_head_dim), d.q_lora_rank);
  } else {
    c.linear(nh * (d.qk_nope_head_dim + d.qk_rope_head_dim), H);
  }
  c.linear(d.kv_lora_rank + d.qk_rope_head_dim, H);
  c.plain(d.kv_lora_rank);
  c.linear(nh * (d.qk_nope_head_dim + d.v_head_dim), d.kv_lora_rank);
  c.linear(H, nh * d.v_head_dim);
  if (!d.is_moe_layer(layer)) {
    c.ffn(H, cfg.intermediate);
    return;
  }
  c.add(static_cast<uint64_t>(d.n_routed_experts) * H, "BF16", 2);  // router (bf16 in R1)
  c.add(d.n_routed_experts, "F32", 4);                              // e_score_correction_bias
  if (d.n_shared_experts > 0) c.ffn(H, d.n_shared_experts * d.moe_intermediate);
  for (int64_t e = 0; e < d.n_routed_experts; ++e) {
    const bool was = c.active;
    c.active = was && e < d.experts_per_tok;  // top_k experts are read per token
    c.ffn(H, d.moe_intermediate);
    c.active = was;
  }
}

}  // namespace

ParamCount count_params(const io::ModelConfig& cfg, int dtype_bytes) {
  ParamCount pc;
  const bool ds = cfg.arch == io::Arch::DeepseekV3;
  Counter c{pc, dtype_bytes, ds && cfg.ds.fp8, cfg.ds.fp8_block_out, cfg.ds.fp8_block_in};
  const int64_t H = cfg.hidden, V = cfg.vocab;
  // Embedding: one row read per token.
  c.active = false;
  c.plain(static_cast<uint64_t>(V) * H);
  c.active = true;
  pc.active_params += H;
  pc.active_bytes += static_cast<uint64_t>(H) * dtype_bytes;
  c.plain(H);  // final norm
  if (!cfg.tie_word_embeddings)
    c.plain(static_cast<uint64_t>(V) * H);  // lm_head (not fp8 in R1)
  else {
    pc.active_params += static_cast<uint64_t>(V) * H;
    pc.active_bytes += static_cast<uint64_t>(V) * H * dtype_bytes;
  }
  for (int64_t l = 0; l < cfg.n_layers; ++l) {
    if (ds) {
      deepseek_layer(c, cfg, l);
      continue;
    }
    const int64_t D = cfg.head_dim;
    c.plain(2 * H);
    c.linear(cfg.n_heads * D, H);
    c.linear(cfg.n_kv_heads * D, H);
    c.linear(cfg.n_kv_heads * D, H);
    if (cfg.attention_bias) c.plain((cfg.n_heads + 2 * cfg.n_kv_heads) * D);
    c.linear(H, cfg.n_heads * D);
    c.ffn(H, cfg.intermediate);
  }
  if (ds && cfg.ds.num_nextn_predict_layers > 0) {
    c.mtp = true;
    deepseek_layer(c, cfg, cfg.n_layers);
    c.plain(3 * H);                             // enorm, hnorm, shared_head.norm
    c.plain(static_cast<uint64_t>(2 * H) * H);  // eh_proj (bf16 in R1)
    c.plain(2 * static_cast<uint64_t>(V) * H);  // its embed_tokens and shared_head.head copies
  }
  if (ds) {
    const auto& d = cfg.ds;
    pc.kv_bytes_per_token = cfg.n_layers * (d.kv_lora_rank + d.qk_rope_head_dim) * 4;
    pc.naive_kv_bytes_per_token =
        cfg.n_layers * cfg.n_heads * (d.qk_nope_head_dim + d.qk_rope_head_dim + d.v_head_dim) * 4;
  } else {
    pc.kv_bytes_per_token = cfg.n_layers * 2 * cfg.n_kv_heads * cfg.head_dim * 4;
  }
  return pc;
}

}  // namespace r1::models
