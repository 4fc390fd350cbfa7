#include "io/tensor_table.h"

namespace r1::io {

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

class Table {
 public:
  explicit Table(const ModelConfig& c) : c_(c) {}
  std::vector<TensorSpec> v;

  // Layer `l`'s tensors get names under "model.layers.<l>." and "blk.<l>.".
  void set_layer(int32_t l) {
    layer_ = l;
    prefix_ = "model.layers." + std::to_string(l) + ".";
    gguf_prefix_ = "blk." + std::to_string(l) + ".";
  }
  void outside_layers() {
    layer_ = -1;
    prefix_.clear();
  }

  TensorSpec& add(const std::string& name, std::vector<int64_t> shape, Role role, Storage storage,
                  InitKind init, const char* gguf = nullptr) {
    TensorSpec s;
    s.name = prefix_ + name;
    s.shape = std::move(shape);
    s.role = role;
    s.layer = layer_;
    s.storage = storage;
    s.init = init;
    if (gguf) s.gguf = (layer_ >= 0 ? gguf_prefix_ : std::string()) + gguf;
    v.push_back(std::move(s));
    return v.back();
  }
  TensorSpec& matrix(const std::string& name, int64_t rows, int64_t cols, Role role,
                     const char* gguf = nullptr) {
    return add(name, {rows, cols}, role, Storage::Matrix, InitKind::Normal, gguf);
  }
  TensorSpec& norm(const std::string& name, int64_t n, Role role, const char* gguf = nullptr) {
    return add(name, {n}, role, Storage::Float, InitKind::Ones, gguf);
  }
  TensorSpec& bias(const std::string& name, int64_t n, Role role, const char* gguf = nullptr) {
    return add(name, {n}, role, Storage::Float, InitKind::Zeros, gguf);
  }
  // DeepSeek's projections: fp8 in its fp8 checkpoints.
  TensorSpec& linear(const std::string& name, int64_t rows, int64_t cols, Role role,
                     const char* gguf = nullptr) {
    TensorSpec& s = matrix(name, rows, cols, role, gguf);
    s.storage = Storage::Linear;
    s.fp8 = c_.ds.fp8;
    return s;
  }

  void dense_layer() {
    const int64_t H = c_.hidden, q = c_.n_heads * c_.head_dim, kv = c_.n_kv_heads * c_.head_dim;
    const bool llama = c_.arch == Arch::Llama;
    norm("input_layernorm.weight", H, Role::AttnNorm, "attn_norm.weight");
    norm("post_attention_layernorm.weight", H, Role::FfnNorm, "ffn_norm.weight");
    matrix("self_attn.q_proj.weight", q, H, Role::Q, "attn_q.weight").rope_heads =
        llama ? c_.n_heads : 0;
    matrix("self_attn.k_proj.weight", kv, H, Role::K, "attn_k.weight").rope_heads =
        llama ? c_.n_kv_heads : 0;
    matrix("self_attn.v_proj.weight", kv, H, Role::V, "attn_v.weight");
    matrix("self_attn.o_proj.weight", H, q, Role::O, "attn_output.weight");
    if (c_.attention_bias) {
      bias("self_attn.q_proj.bias", q, Role::QBias, "attn_q.bias").rope_heads =
          llama ? c_.n_heads : 0;
      bias("self_attn.k_proj.bias", kv, Role::KBias, "attn_k.bias").rope_heads =
          llama ? c_.n_kv_heads : 0;
      bias("self_attn.v_proj.bias", kv, Role::VBias, "attn_v.bias");
    }
    const int64_t I = c_.intermediate;
    matrix("mlp.gate_proj.weight", I, H, Role::Gate, "ffn_gate.weight");
    matrix("mlp.up_proj.weight", I, H, Role::Up, "ffn_up.weight");
    matrix("mlp.down_proj.weight", H, I, Role::Down, "ffn_down.weight");
    if (c_.mlp_bias) {
      bias("mlp.gate_proj.bias", I, Role::GateBias, "ffn_gate.bias");
      bias("mlp.up_proj.bias", I, Role::UpBias, "ffn_up.bias");
      bias("mlp.down_proj.bias", H, Role::DownBias, "ffn_down.bias");
    }
  }

  // llama.cpp names the dense MLP's ffn_gate, the routed experts' ffn_gate_exps (one tensor of
  // all experts) and the shared experts' ffn_gate_shexp: `kind` is "", "_exps" or "_shexp".
  void deepseek_ffn(const std::string& p, int64_t inter, Role gate, Role up, Role down,
                    int32_t expert, const std::string& kind) {
    const int64_t H = c_.hidden;
    const size_t first = v.size();
    linear(p + "gate_proj.weight", inter, H, gate, ("ffn_gate" + kind + ".weight").c_str());
    linear(p + "up_proj.weight", inter, H, up, ("ffn_up" + kind + ".weight").c_str());
    linear(p + "down_proj.weight", H, inter, down, ("ffn_down" + kind + ".weight").c_str());
    for (size_t i = first; i < v.size(); ++i) {
      v[i].expert = expert;
      v[i].per_token = expert < c_.ds.experts_per_tok;
    }
  }

  void deepseek_layer(int64_t l) {
    const auto& d = c_.ds;
    const int64_t H = c_.hidden, nh = c_.n_heads, qk = d.qk_nope_head_dim + d.qk_rope_head_dim;
    norm("input_layernorm.weight", H, Role::AttnNorm, "attn_norm.weight");
    norm("post_attention_layernorm.weight", H, Role::FfnNorm, "ffn_norm.weight");
    const std::string a = "self_attn.";
    if (d.q_lora_rank > 0) {
      linear(a + "q_a_proj.weight", d.q_lora_rank, H, Role::QA, "attn_q_a.weight");
      norm(a + "q_a_layernorm.weight", d.q_lora_rank, Role::QANorm, "attn_q_a_norm.weight");
      linear(a + "q_b_proj.weight", nh * qk, d.q_lora_rank, Role::QB, "attn_q_b.weight");
    } else {
      linear(a + "q_proj.weight", nh * qk, H, Role::Q, "attn_q.weight");
    }
    linear(a + "kv_a_proj_with_mqa.weight", d.kv_lora_rank + d.qk_rope_head_dim, H, Role::KvA,
           "attn_kv_a_mqa.weight");
    norm(a + "kv_a_layernorm.weight", d.kv_lora_rank, Role::KvANorm, "attn_kv_a_norm.weight");
    // attn_kv_b in older GGUF files; llama.cpp now writes it split (io/gguf_export.h)
    linear(a + "kv_b_proj.weight", nh * (d.qk_nope_head_dim + d.v_head_dim), d.kv_lora_rank,
           Role::KvB, "attn_kv_b.weight");
    linear(a + "o_proj.weight", H, nh * d.v_head_dim, Role::O, "attn_output.weight");
    if (!d.is_moe_layer(l)) {
      deepseek_ffn("mlp.", c_.intermediate, Role::Gate, Role::Up, Role::Down, -1, "");
      return;
    }
    // The router is bf16 in R1's checkpoints, its correction bias f32 (and absent in some).
    add("mlp.gate.weight", {d.n_routed_experts, H}, Role::Router, Storage::Float, InitKind::Normal,
        "ffn_gate_inp.weight");
    TensorSpec& b = add("mlp.gate.e_score_correction_bias", {d.n_routed_experts}, Role::RouterBias,
                        Storage::F32, InitKind::Zeros, "exp_probs_b.bias");
    b.optional = true;
    b.frozen = true;
    for (int32_t e = 0; e < d.n_routed_experts; ++e)
      deepseek_ffn("mlp.experts." + std::to_string(e) + ".", d.moe_intermediate, Role::Gate,
                   Role::Up, Role::Down, e, "_exps");
    if (d.n_shared_experts > 0)
      deepseek_ffn("mlp.shared_experts.", d.n_shared_experts * d.moe_intermediate, Role::SharedGate,
                   Role::SharedUp, Role::SharedDown, -1, "_shexp");
  }

  // DeepSeek's multi-token-prediction layer (index n_layers; docs/FACTS.md section 2): an MoE
  // layer of its own plus the norms and projection that feed it; its embedding and head are
  // copies of the model's in the published checkpoints (aliases when absent). Saved, not
  // trained: the training forward does not run it; nor does a decode step of the main model.
  void deepseek_mtp() {
    const int64_t H = c_.hidden, V = c_.vocab;
    const size_t first = v.size();
    set_layer(static_cast<int32_t>(c_.n_layers));
    deepseek_layer(c_.n_layers);
    norm("enorm.weight", H, Role::MtpEnorm);
    norm("hnorm.weight", H, Role::MtpHnorm);
    TensorSpec& eh = linear("eh_proj.weight", H, 2 * H, Role::MtpEhProj);
    eh.fp8 = false;  // bf16 in R1
    norm("shared_head.norm.weight", H, Role::MtpHeadNorm);
    TensorSpec& e = matrix("embed_tokens.weight", V, H, Role::MtpEmbed);
    e.storage = Storage::Float;
    e.alias = "model.embed_tokens.weight";
    e.optional = true;
    TensorSpec& h = linear("shared_head.head.weight", V, H, Role::MtpHead);
    h.fp8 = false;
    h.alias = "lm_head.weight";
    h.optional = true;
    for (size_t i = first; i < v.size(); ++i) {
      v[i].frozen = true;
      v[i].per_token = false;
      v[i].gguf.clear();  // llama.cpp's converter leaves the MTP layer out
    }
  }

 private:
  const ModelConfig& c_;
  int32_t layer_ = -1;
  std::string prefix_, gguf_prefix_;
};

}  // namespace

std::vector<TensorSpec> tensor_table(const ModelConfig& c, bool with_mtp) {
  const bool ds = c.arch == Arch::DeepseekV3;
  Table t(c);
  TensorSpec& embed =
      t.matrix("model.embed_tokens.weight", c.vocab, c.hidden, Role::Embed, "token_embd.weight");
  embed.per_token = false;  // one row
  for (int32_t l = 0; l < c.n_layers; ++l) {
    t.set_layer(l);
    if (ds) {
      t.deepseek_layer(l);
    } else {
      t.dense_layer();
    }
  }
  t.outside_layers();
  t.norm("model.norm.weight", c.hidden, Role::FinalNorm, "output_norm.weight");
  TensorSpec& head = t.matrix("lm_head.weight", c.vocab, c.hidden, Role::LmHead, "output.weight");
  if (ds) head.storage = Storage::Linear;  // bf16 in R1; fp8 accepted
  if (c.tie_word_embeddings) {
    head.alias = "model.embed_tokens.weight";
    head.gguf.clear();
  }
  if (ds && with_mtp) t.deepseek_mtp();
  return std::move(t.v);
}

}  // namespace r1::io
