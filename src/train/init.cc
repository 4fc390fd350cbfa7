#include "train/init.h"

#include <cmath>

#include "core/error.h"
#include "core/file_util.h"
#include "core/memory.h"
#include "core/random.h"
#include "io/model_config.h"
#include "io/tensor_table.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"

namespace r1::train {

namespace {

// Box-Muller over splitmix64: the same weights for the same seed on every platform.
struct Normal {
  SplitMix64 rng;
  double operator()() {
    const double u = rng.unit();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * rng.unit());
  }
};

int64_t round_up(int64_t x, int64_t m) {
  return (x + m - 1) / m * m;
}

}  // namespace

nlohmann::ordered_json make_config(const InitOptions& o, int64_t vocab, int32_t bos, int32_t eos) {
  if (o.hidden <= 0 || o.layers <= 0 || o.heads <= 0)
    fail_usage("--hidden, --layers and --heads must be positive");
  const int64_t kv = o.kv_heads ? o.kv_heads : o.heads;
  if (o.heads % kv) fail_usage("--heads ", o.heads, " is not a multiple of --kv-heads ", kv);
  const int64_t head_dim = o.head_dim ? o.head_dim : o.hidden / o.heads;
  if (head_dim % 2 || head_dim <= 0) fail_usage("the head dimension ", head_dim, " must be even");
  const int64_t inter = o.intermediate ? o.intermediate : round_up(o.hidden * 8 / 3, 32);
  nlohmann::ordered_json j;
  const bool ds = o.arch == "deepseek_v3";
  if (o.arch == "qwen2") {
    j["architectures"] = {"Qwen2ForCausalLM"};
    j["model_type"] = "qwen2";
  } else if (o.arch == "llama") {
    j["architectures"] = {"LlamaForCausalLM"};
    j["model_type"] = "llama";
    j["attention_bias"] = false;
    j["mlp_bias"] = false;
  } else if (ds) {
    j["architectures"] = {"DeepseekV3ForCausalLM"};
    j["model_type"] = "deepseek_v3";
  } else {
    fail_usage("--arch must be qwen2, llama or deepseek_v3, not '", o.arch, "'");
  }
  j["hidden_size"] = o.hidden;
  j["intermediate_size"] = inter;
  j["num_hidden_layers"] = o.layers;
  j["num_attention_heads"] = o.heads;
  j["num_key_value_heads"] = kv;
  if (!ds && o.head_dim) j["head_dim"] = head_dim;
  j["vocab_size"] = vocab;
  j["max_position_embeddings"] = o.max_position;
  j["rms_norm_eps"] = o.rms_norm_eps;
  j["rope_theta"] = o.rope_theta;
  j["rope_scaling"] = nullptr;
  j["hidden_act"] = "silu";
  j["initializer_range"] = o.init_std;
  j["tie_word_embeddings"] = o.tie_embeddings;
  j["bos_token_id"] = bos;
  j["eos_token_id"] = eos;
  j["torch_dtype"] = o.dtype == "bf16" ? "bfloat16" : "float32";
  if (o.arch == "qwen2") j["use_sliding_window"] = false;
  if (ds) {
    j["q_lora_rank"] = o.q_lora_rank > 0 ? nlohmann::ordered_json(o.q_lora_rank) : nullptr;
    j["kv_lora_rank"] = o.kv_lora_rank;
    j["qk_nope_head_dim"] = o.qk_nope_head_dim;
    j["qk_rope_head_dim"] = o.qk_rope_head_dim;
    j["v_head_dim"] = o.v_head_dim;
    j["moe_intermediate_size"] = o.moe_intermediate ? o.moe_intermediate : inter / 4;
    j["n_routed_experts"] = o.n_routed_experts;
    j["num_experts_per_tok"] = o.experts_per_tok;
    j["n_shared_experts"] = o.n_shared_experts;
    j["n_group"] = o.n_group;
    j["topk_group"] = o.topk_group;
    j["first_k_dense_replace"] = o.first_k_dense_replace;
    j["moe_layer_freq"] = 1;
    j["routed_scaling_factor"] = o.routed_scaling_factor;
    j["norm_topk_prob"] = true;
    j["scoring_func"] = "sigmoid";
    j["topk_method"] = "noaux_tc";
    j["num_nextn_predict_layers"] = 0;
  }
  return j;
}

int64_t init_model(const InitOptions& o, const std::string& out_dir) {
  if (o.tokenizer_dir.empty()) fail_usage("--tokenizer DIR is required (a tokenizer folder)");
  if (o.dtype != "f32" && o.dtype != "bf16") fail_usage("--dtype must be f32 or bf16");
  tok::Tokenizer tk = tok::Tokenizer::load(o.tokenizer_dir);
  const int64_t vocab = o.vocab ? o.vocab : round_up(tk.vocab_size(), 64);
  if (vocab < tk.vocab_size())
    fail_usage("--vocab ", vocab, " is smaller than the tokenizer's ", tk.vocab_size(), " ids");
  nlohmann::ordered_json cfg = make_config(o, vocab, tk.bos_id(), tk.eos_id());
  const io::ModelConfig parsed =
      io::ModelConfig::parse(nlohmann::json::parse(cfg.dump()), "config");
  std::vector<io::TensorSpec> layout;  // what a checkpoint stores (no tied lm_head)
  for (io::TensorSpec& s : io::tensor_table(parsed))
    if (s.stored()) layout.push_back(std::move(s));
  uint64_t bytes = 0;  // every tensor in f32 at once, before any is made
  for (const io::TensorSpec& s : layout) {
    uint64_t n = 4;
    for (int64_t d : s.shape) n = mul_sat(n, static_cast<uint64_t>(d));
    bytes = add_sat(bytes, n);
  }
  check_memory(bytes, "the new model's f32 weights");
  Normal rng{SplitMix64(o.seed)};
  NamedTensors tensors;
  int64_t params = 0;
  for (const io::TensorSpec& s : layout) {
    Tensor t = Tensor::zeros(DType::F32, s.shape);
    float* p = t.ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
      p[i] = s.init == io::InitKind::Ones     ? 1.0f
             : s.init == io::InitKind::Normal ? static_cast<float>(o.init_std * rng())
                                              : 0.0f;
    params += t.numel();
    tensors.emplace_back(s.name, t);
  }
  std::map<std::string, std::string> files;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                        "chat_template.jinja"}) {
    const std::string p = path_join(o.tokenizer_dir, f);
    if (file_exists(p)) files[f] = read_file(p);
  }
  files["config.json"] = cfg.dump(2) + "\n";
  nlohmann::ordered_json gen;
  gen["bos_token_id"] = tk.bos_id();
  gen["eos_token_id"] = tk.eos_id();
  gen["do_sample"] = true;
  gen["temperature"] = 0.6;  // DeepSeek-R1's usage recommendation
  gen["top_p"] = 0.95;
  files["generation_config.json"] = gen.dump(2) + "\n";
  write_folder(out_dir, files, {{"model.safetensors", tensors}},
               o.dtype == "bf16" ? DType::BF16 : DType::F32);
  return params;
}

}  // namespace r1::train
