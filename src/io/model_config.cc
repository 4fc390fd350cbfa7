#include "io/model_config.h"

#include <cmath>

#include "core/error.h"
#include "core/file_util.h"

namespace r1::io {

using nlohmann::json;

namespace {

int64_t get_int(const json& j, const std::string& where, const char* key, int64_t def,
                bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) fail_input(where, ": missing field ", key);
    return def;
  }
  const json& v = j[key];
  if (!v.is_number_integer())
    fail_input(where, ": field ", key, " must be an integer, got ", v.dump());
  return v.get<int64_t>();
}

double get_num(const json& j, const std::string& where, const char* key, double def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  const json& v = j[key];
  if (!v.is_number() || !std::isfinite(v.get<double>()))
    fail_input(where, ": field ", key, " must be a finite number, got ", v.dump());
  return v.get<double>();
}

std::string get_str(const json& j, const std::string& where, const char* key,
                    const std::string& def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_string()) fail_input(where, ": field ", key, " must be a string");
  return j[key].get<std::string>();
}

bool get_bool(const json& j, const std::string& where, const char* key, bool def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_boolean()) fail_input(where, ": field ", key, " must be true or false");
  return j[key].get<bool>();
}

void positive(const std::string& where, const char* key, int64_t v) {
  if (v <= 0) fail_input(where, ": field ", key, " must be positive, got ", v);
}

void parse_deepseek(const json& j, const std::string& where, ModelConfig* c) {
  DeepseekConfig& d = c->ds;
  d.q_lora_rank = get_int(j, where, "q_lora_rank", 0, false);
  d.kv_lora_rank = get_int(j, where, "kv_lora_rank", 0, true);
  d.qk_nope_head_dim = get_int(j, where, "qk_nope_head_dim", 0, true);
  d.qk_rope_head_dim = get_int(j, where, "qk_rope_head_dim", 0, true);
  d.v_head_dim = get_int(j, where, "v_head_dim", 0, true);
  d.n_routed_experts = get_int(j, where, "n_routed_experts", 0, false);
  d.n_shared_experts = get_int(j, where, "n_shared_experts", 0, false);
  d.moe_intermediate = get_int(j, where, "moe_intermediate_size", 0, d.n_routed_experts > 0);
  d.experts_per_tok = get_int(j, where, "num_experts_per_tok", 0, d.n_routed_experts > 0);
  d.n_group = get_int(j, where, "n_group", 1, false);
  d.topk_group = get_int(j, where, "topk_group", d.n_group, false);
  d.first_k_dense_replace = get_int(j, where, "first_k_dense_replace", 0, false);
  d.moe_layer_freq = get_int(j, where, "moe_layer_freq", 1, false);
  d.routed_scaling_factor = get_num(j, where, "routed_scaling_factor", 1.0);
  d.norm_topk_prob = get_bool(j, where, "norm_topk_prob", true);
  d.num_nextn_predict_layers = get_int(j, where, "num_nextn_predict_layers", 0, false);
  for (auto [k, v] : {std::pair{"kv_lora_rank", d.kv_lora_rank},
                      {"qk_nope_head_dim", d.qk_nope_head_dim},
                      {"qk_rope_head_dim", d.qk_rope_head_dim},
                      {"v_head_dim", d.v_head_dim},
                      {"n_group", d.n_group},
                      {"topk_group", d.topk_group},
                      {"moe_layer_freq", d.moe_layer_freq}})
    positive(where, k, v);
  if (d.q_lora_rank < 0) fail_input(where, ": field q_lora_rank must be positive or null");
  if (d.qk_rope_head_dim % 2) fail_input(where, ": qk_rope_head_dim must be even");
  if (d.n_routed_experts > 0) {
    if (d.n_routed_experts % d.n_group)
      fail_input(where, ": n_routed_experts ", d.n_routed_experts, " is not a multiple of n_group ",
                 d.n_group);
    if (d.topk_group > d.n_group) fail_input(where, ": topk_group exceeds n_group");
    if (d.experts_per_tok < 1 ||
        d.experts_per_tok > d.topk_group * (d.n_routed_experts / d.n_group))
      fail_input(where, ": num_experts_per_tok ", d.experts_per_tok,
                 " does not fit in topk_group groups of experts");
    positive(where, "moe_intermediate_size", d.moe_intermediate);
  }
  std::string scoring = get_str(j, where, "scoring_func", "sigmoid");
  if (scoring != "sigmoid")
    fail_input(where, ": scoring_func '", scoring, "' is not supported (DeepSeek-V3 uses sigmoid)");
  std::string method = get_str(j, where, "topk_method", "noaux_tc");
  if (method != "noaux_tc")
    fail_input(where, ": topk_method '", method, "' is not supported (DeepSeek-V3 uses noaux_tc)");
  if (d.num_nextn_predict_layers > 1)
    fail_input(where, ": num_nextn_predict_layers ", d.num_nextn_predict_layers,
               " (r1 runs one MTP layer)");
  c->head_dim = d.qk_nope_head_dim + d.qk_rope_head_dim;
  if (j.contains("quantization_config") && j["quantization_config"].is_object()) {
    const json& q = j["quantization_config"];
    std::string qw = where + ": quantization_config";
    std::string qm = get_str(q, qw, "quant_method", "");
    if (qm != "fp8") fail_input(qw, ": quant_method '", qm, "' is not supported");
    std::string fmt = get_str(q, qw, "fmt", "e4m3");
    if (fmt != "e4m3") fail_input(qw, ": fmt '", fmt, "' is not supported");
    d.fp8 = true;
    if (q.contains("weight_block_size")) {
      const json& b = q["weight_block_size"];
      if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() ||
          !b[1].is_number_integer() || b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0)
        fail_input(qw, ": weight_block_size must be two positive integers");
      d.fp8_block_out = b[0].get<int64_t>();
      d.fp8_block_in = b[1].get<int64_t>();
    }
  }
}

}  // namespace

ModelConfig ModelConfig::parse(const json& j, const std::string& where) {
  if (!j.is_object()) fail_input(where, ": not a JSON object");
  ModelConfig c;
  std::string model_type = get_str(j, where, "model_type", "");
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string())
    c.arch_name = j["architectures"][0].get<std::string>();
  if (c.arch_name == "Qwen2ForCausalLM" || (c.arch_name.empty() && model_type == "qwen2")) {
    c.arch = Arch::Qwen2;
  } else if (c.arch_name == "LlamaForCausalLM" || (c.arch_name.empty() && model_type == "llama")) {
    c.arch = Arch::Llama;
  } else if (c.arch_name == "DeepseekV3ForCausalLM" ||
             (c.arch_name.empty() && model_type == "deepseek_v3")) {
    c.arch = Arch::DeepseekV3;
  } else {
    fail_input(where, ": unsupported architecture '",
               c.arch_name.empty() ? model_type : c.arch_name,
               "' (r1 runs Qwen2ForCausalLM, LlamaForCausalLM and DeepseekV3ForCausalLM)");
  }
  if (c.arch_name.empty())
    c.arch_name = c.arch == Arch::Qwen2   ? "Qwen2ForCausalLM"
                  : c.arch == Arch::Llama ? "LlamaForCausalLM"
                                          : "DeepseekV3ForCausalLM";

  c.hidden = get_int(j, where, "hidden_size", 0, true);
  c.n_layers = get_int(j, where, "num_hidden_layers", 0, true);
  c.n_heads = get_int(j, where, "num_attention_heads", 0, true);
  c.n_kv_heads = get_int(j, where, "num_key_value_heads", c.n_heads, false);
  c.intermediate = get_int(j, where, "intermediate_size", 0, true);
  c.vocab = get_int(j, where, "vocab_size", 0, true);
  for (auto [k, v] : {std::pair{"hidden_size", c.hidden},
                      {"num_hidden_layers", c.n_layers},
                      {"num_attention_heads", c.n_heads},
                      {"num_key_value_heads", c.n_kv_heads},
                      {"intermediate_size", c.intermediate},
                      {"vocab_size", c.vocab}})
    positive(where, k, v);
  if (c.n_heads % c.n_kv_heads != 0)
    fail_input(where, ": num_attention_heads ", c.n_heads,
               " is not a multiple of num_key_value_heads ", c.n_kv_heads);
  if (c.arch == Arch::DeepseekV3) {
    parse_deepseek(j, where, &c);
  } else if (j.contains("head_dim") && !j["head_dim"].is_null()) {
    c.head_dim = get_int(j, where, "head_dim", 0, true);
  } else {
    if (c.hidden % c.n_heads != 0)
      fail_input(where, ": hidden_size ", c.hidden, " is not a multiple of num_attention_heads ",
                 c.n_heads, " and no head_dim is given");
    c.head_dim = c.hidden / c.n_heads;
  }
  positive(where, "head_dim", c.head_dim);
  if (c.head_dim % 2) fail_input(where, ": head_dim ", c.head_dim, " must be even for RoPE");
  c.max_position_embeddings = get_int(j, where, "max_position_embeddings", 32768, false);
  c.rope_theta = get_num(j, where, "rope_theta", 10000.0);
  if (!(c.rope_theta > 0)) fail_input(where, ": rope_theta must be positive");
  c.rms_norm_eps = get_num(j, where, "rms_norm_eps", 1e-6);
  if (!(c.rms_norm_eps > 0 && c.rms_norm_eps < 1))
    fail_input(where, ": rms_norm_eps must be in (0, 1), got ", c.rms_norm_eps);
  // The MLP activation: every architecture r1 runs uses SiLU (HF ACT2FN "silu", alias "swish").
  const std::string act = get_str(j, where, "hidden_act", "silu");
  if (act != "silu" && act != "swish")
    fail_input(where, ": hidden_act \"", act, "\" is not supported (r1 runs silu)");
  positive(where, "max_position_embeddings", c.max_position_embeddings);
  c.tie_word_embeddings = get_bool(j, where, "tie_word_embeddings", false);
  c.attention_bias = c.arch == Arch::Qwen2 ? true : get_bool(j, where, "attention_bias", false);
  c.mlp_bias = c.arch == Arch::Llama && get_bool(j, where, "mlp_bias", false);
  c.torch_dtype = get_str(j, where, "torch_dtype", "");

  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    const json& r = j["rope_scaling"];
    std::string rw = where + ": rope_scaling";
    if (!r.is_object()) fail_input(rw, " must be an object");
    std::string type = get_str(r, rw, "rope_type", get_str(r, rw, "type", ""));
    if (type == "llama3") {
      c.rope_scaling.type = type;
      c.rope_scaling.factor = get_num(r, rw, "factor", 8.0);
      c.rope_scaling.low_freq_factor = get_num(r, rw, "low_freq_factor", 1.0);
      c.rope_scaling.high_freq_factor = get_num(r, rw, "high_freq_factor", 4.0);
      c.rope_scaling.original_max_position_embeddings =
          get_int(r, rw, "original_max_position_embeddings", 8192, false);
      if (!(c.rope_scaling.factor > 0) ||
          !(c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor) ||
          c.rope_scaling.original_max_position_embeddings <= 0)
        fail_input(rw, ": invalid llama3 parameters");
    } else if (type == "yarn") {
      c.rope_scaling.type = type;
      c.rope_scaling.factor = get_num(r, rw, "factor", 1.0);
      c.rope_scaling.original_max_position_embeddings =
          get_int(r, rw, "original_max_position_embeddings", 4096, false);
      c.rope_scaling.beta_fast = get_num(r, rw, "beta_fast", 32.0);
      c.rope_scaling.beta_slow = get_num(r, rw, "beta_slow", 1.0);
      c.rope_scaling.mscale = get_num(r, rw, "mscale", 1.0);
      c.rope_scaling.mscale_all_dim = get_num(r, rw, "mscale_all_dim", 0.0);
      if (!(c.rope_scaling.factor >= 1) || c.rope_scaling.original_max_position_embeddings <= 0)
        fail_input(rw, ": invalid yarn parameters");
    } else if (type != "default" && !type.empty()) {
      fail_input(rw, ": unsupported rope type '", type, "'");
    }
  }
  // Special token ids index the embedding: each must be one of its rows.
  auto token_id = [&](const json& v, const char* key) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= c.vocab)
      fail_input(where, ": ", key, " ", v.dump(), " is not a token id (vocab_size ", c.vocab, ")");
    return static_cast<int32_t>(v.get<int64_t>());
  };
  if (j.contains("bos_token_id") && !j["bos_token_id"].is_null())
    c.bos_token_id = token_id(j["bos_token_id"], "bos_token_id");
  if (j.contains("eos_token_id") && !j["eos_token_id"].is_null()) {
    const json& e = j["eos_token_id"];
    if (e.is_array()) {
      for (const json& x : e) c.eos_token_ids.push_back(token_id(x, "eos_token_id"));
    } else {
      c.eos_token_ids.push_back(token_id(e, "eos_token_id"));
    }
  }
  return c;
}

ModelConfig ModelConfig::load(const std::string& model_dir) {
  std::string path = path_join(model_dir, "config.json");
  json j;
  std::string text = read_file(path);
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail_input(path, ": not valid JSON: ", e.what());
  }
  return parse(j, path);
}

}  // namespace r1::io
