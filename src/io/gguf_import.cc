#include "io/gguf_import.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include "core/error.h"
#include "core/file_util.h"
#include "io/gguf_tokenizer.h"
#include "io/rope_freqs.h"
#include "io/safetensors.h"
#include "io/tensor_table.h"
#include "io/tensor_values.h"

namespace r1::io {

using nlohmann::json;

namespace {

std::string cache_root() {
  if (const char* d = std::getenv("R1_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return path_join(d, "r1");
  if (const char* h = std::getenv("HOME"); h && *h) return path_join(h, ".cache/r1");
  return "/tmp/r1-cache";
}

// DeepSeek's kv_b_proj [heads * (nope + v), kv_lora] from llama.cpp's attn_k_b [heads, kv_lora,
// nope] and attn_v_b [heads, v, kv_lora] (io/gguf_export.h): 16-bit when both are of that type,
// else f32 (dequantized blocks kept exact).
Tensor join_kv_b(const Tensor& k_b, const Tensor& v_b, const std::string& where) {
  if (k_b.ndim() != 3 || v_b.ndim() != 3 || k_b.dim(0) != v_b.dim(0) || k_b.dim(1) != v_b.dim(2))
    fail_input(where, ": attn_k_b ", shape_str(k_b.shape), " and attn_v_b ", shape_str(v_b.shape),
               " are not [heads, kv_lora, nope] and [heads, v, kv_lora]");
  const int64_t nh = k_b.dim(0), lora = k_b.dim(1), nope = k_b.dim(2), v = v_b.dim(1);
  const std::vector<float> k = tensor_values_f32(k_b, where + ": attn_k_b"),
                           vv = tensor_values_f32(v_b, where + ": attn_v_b");
  std::vector<float> kv(static_cast<size_t>(nh * (nope + v) * lora));
  for (int64_t h = 0; h < nh; ++h) {
    float* head = kv.data() + h * (nope + v) * lora;
    for (int64_t i = 0; i < nope; ++i)
      for (int64_t j = 0; j < lora; ++j) head[i * lora + j] = k[(h * lora + j) * nope + i];
    std::copy(vv.begin() + h * v * lora, vv.begin() + (h + 1) * v * lora, head + nope * lora);
  }
  const DType type = k_b.dtype == v_b.dtype && (k_b.dtype == DType::BF16 || k_b.dtype == DType::F16)
                         ? k_b.dtype
                         : DType::F32;
  return tensor_from_f32(kv, {nh * (nope + v), lora}, type);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// config.json of a deepseek2 file, from the keys llama.cpp's converter writes (io/gguf_export.h).
json deepseek2_config(const GgufFile& g, json c) {
  const std::string a = "deepseek2.";
  auto opt_int = [&](const std::string& key, int64_t def) {
    return g.find(a + key) ? g.get_int(a + key) : def;
  };
  auto opt_float = [&](const std::string& key, double def) {
    return g.find(a + key) ? g.get_float(a + key) : def;
  };
  const int64_t heads = g.get_int(a + "attention.head_count");
  const int64_t rope = g.get_int(a + "rope.dimension_count");
  // MLA files give the per-head sizes under *_mla; older ones (one kv head per head) directly
  const int64_t k_len = g.find(a + "attention.key_length_mla")
                            ? g.get_int(a + "attention.key_length_mla")
                            : g.get_int(a + "attention.key_length");
  const int64_t v_len = g.find(a + "attention.value_length_mla")
                            ? g.get_int(a + "attention.value_length_mla")
                            : g.get_int(a + "attention.value_length");
  const int64_t q_lora = opt_int("attention.q_lora_rank", 0);
  const int64_t experts = opt_int("expert_count", 0);
  const int64_t groups = opt_int("expert_group_count", 1);
  // llama.cpp: softmax (1) when absent (DeepSeek-V2's files); r1's config refuses it by name
  const bool sigmoid = opt_int("expert_gating_func", 1) == 2;
  c["architectures"] = {"DeepseekV3ForCausalLM"};
  c["model_type"] = "deepseek_v3";
  c["num_key_value_heads"] = heads;
  c["q_lora_rank"] = q_lora > 0 ? json(q_lora) : json(nullptr);
  c["kv_lora_rank"] = g.get_int(a + "attention.kv_lora_rank");
  c["qk_nope_head_dim"] = k_len - rope;
  c["qk_rope_head_dim"] = rope;
  c["v_head_dim"] = v_len;
  c["n_routed_experts"] = experts;
  c["moe_intermediate_size"] = opt_int("expert_feed_forward_length", 0);
  c["n_shared_experts"] = opt_int("expert_shared_count", 0);
  c["num_experts_per_tok"] = opt_int("expert_used_count", 0);
  c["n_group"] = groups;
  c["topk_group"] = opt_int("expert_group_used_count", groups);
  c["first_k_dense_replace"] = opt_int("leading_dense_block_count", 0);
  c["routed_scaling_factor"] = opt_float("expert_weights_scale", 1.0);
  c["norm_topk_prob"] = g.find(a + "expert_weights_norm") && g.find(a + "expert_weights_norm")->i;
  c["scoring_func"] = sigmoid ? "sigmoid" : "softmax";
  c["topk_method"] = sigmoid ? "noaux_tc" : "greedy";
  c["num_nextn_predict_layers"] = 0;  // not read from GGUF
  c.erase("attention_bias");
  if (g.find(a + "rope.scaling.type")) {
    const std::string type = g.get_string(a + "rope.scaling.type");
    if (type != "yarn" && type != "none")
      fail_input(g.path(), ": rope scaling \"", type, "\" is not read for deepseek2");
    if (type == "yarn") {
      // llama.cpp divides 0.1 out of the log multiplier and takes it as both mscale and
      // mscale_all_dim; without it the two scales have no HF form
      if (!g.find(a + "rope.scaling.yarn_log_multiplier"))
        fail_input(g.path(), ": yarn rope scaling without ", a, "rope.scaling.yarn_log_multiplier");
      if (opt_float("rope.scaling.yarn_attn_factor", 1.0) != 1.0 ||
          opt_float("rope.scaling.yarn_ext_factor", 1.0) != 1.0)
        fail_input(g.path(), ": yarn attention or extrapolation factors other than 1 are not read");
      // (an F32 of 0.1 * m: rounded to 6 decimals, so that 1 reads back as 1)
      const double m =
          std::round(g.get_float(a + "rope.scaling.yarn_log_multiplier") / 0.1 * 1e6) / 1e6;
      c["rope_scaling"] = {{"type", "yarn"},
                           {"factor", g.get_float(a + "rope.scaling.factor")},
                           {"original_max_position_embeddings",
                            g.get_int(a + "rope.scaling.original_context_length")},
                           {"beta_fast", opt_float("rope.scaling.yarn_beta_fast", 32.0)},
                           {"beta_slow", opt_float("rope.scaling.yarn_beta_slow", 1.0)},
                           {"mscale", m},
                           {"mscale_all_dim", m}};
    }
  }
  return c;
}

}  // namespace

Tensor reorder_rope_rows(const Tensor& t, int64_t heads, bool to_gguf) {
  int64_t rows = t.ndim() == 1 ? t.numel() : t.dim(0);
  size_t row_bytes = t.nbytes() / static_cast<size_t>(rows);
  int64_t d = rows / heads, half = d / 2;
  Tensor out = Tensor::empty(t.dtype, t.shape);
  const char* src = static_cast<const char*>(t.data);
  char* dst = static_cast<char*>(out.data);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        size_t gguf_row = static_cast<size_t>(h * d + 2 * i + j);
        size_t hf_row = static_cast<size_t>(h * d + j * half + i);
        std::memcpy(dst + (to_gguf ? gguf_row : hf_row) * row_bytes,
                    src + (to_gguf ? hf_row : gguf_row) * row_bytes, row_bytes);
      }
  return out;
}

json gguf_model_config(const GgufFile& g) {
  const std::string arch = g.get_string("general.architecture");
  if (arch != "qwen2" && arch != "llama" && arch != "deepseek2")
    fail_input(g.path(), ": architecture \"", arch,
               "\" is not read from GGUF (qwen2, llama and deepseek2 are)");
  const GgufTensorInfo* embd = g.tensor_info("token_embd.weight");
  if (!embd || embd->ne.size() != 2) fail_input(g.path(), ": no 2-D token_embd.weight tensor");
  auto opt_int = [&](const std::string& key, int64_t def) {
    return g.find(key) ? g.get_int(key) : def;
  };
  auto opt_float = [&](const std::string& key, double def) {
    return g.find(key) ? g.get_float(key) : def;
  };
  const int64_t hidden = g.get_int(arch + ".embedding_length");
  const int64_t heads = g.get_int(arch + ".attention.head_count");
  json c = {{"architectures", {arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
            {"model_type", arch},
            {"hidden_size", hidden},
            {"intermediate_size", g.get_int(arch + ".feed_forward_length")},
            {"num_hidden_layers", g.get_int(arch + ".block_count")},
            {"num_attention_heads", heads},
            {"num_key_value_heads", opt_int(arch + ".attention.head_count_kv", heads)},
            {"vocab_size", embd->ne[1]},
            {"max_position_embeddings", opt_int(arch + ".context_length", 4096)},
            {"rms_norm_eps", g.get_float(arch + ".attention.layer_norm_rms_epsilon")},
            {"rope_theta", opt_float(arch + ".rope.freq_base", 10000.0)},
            {"rope_scaling", nullptr},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", g.tensor_info("output.weight") == nullptr},
            {"attention_bias", g.tensor_info("blk.0.attn_q.bias") != nullptr}};
  if (arch == "llama") c["mlp_bias"] = g.tensor_info("blk.0.ffn_gate.bias") != nullptr;
  if (arch == "deepseek2") c = deepseek2_config(g, std::move(c));
  int64_t rope_dim = heads > 0 ? hidden / heads : 0;
  if (heads > 0 && arch != "deepseek2" && g.find(arch + ".rope.dimension_count")) {
    rope_dim = g.get_int(arch + ".rope.dimension_count");
    if (rope_dim != hidden / heads) c["head_dim"] = rope_dim;
  }
  if (const GgufTensorInfo* rf = g.tensor_info("rope_freqs.weight")) {
    // Llama 3.1's rope scaling, as llama.cpp stores it (io/rope_freqs.h).
    if (rf->type != GgmlType::F32) fail_input(g.path(), ": rope_freqs.weight must be F32");
    const Tensor t = g.tensor("rope_freqs.weight");
    const std::vector<float> f(t.ptr<float>(), t.ptr<float>() + t.numel());
    const RopeScaling r = llama3_from_freq_factors(f, rope_dim, c["rope_theta"].get<double>(),
                                                   g.path() + ": rope_freqs.weight");
    if (!r.type.empty())
      c["rope_scaling"] = {
          {"rope_type", r.type},
          {"factor", r.factor},
          {"low_freq_factor", r.low_freq_factor},
          {"high_freq_factor", r.high_freq_factor},
          {"original_max_position_embeddings", r.original_max_position_embeddings}};
  }
  if (g.find("tokenizer.ggml.bos_token_id"))
    c["bos_token_id"] = g.get_int("tokenizer.ggml.bos_token_id");
  if (g.find("tokenizer.ggml.eos_token_id"))
    c["eos_token_id"] = g.get_int("tokenizer.ggml.eos_token_id");
  switch (embd->type) {
    case GgmlType::BF16:
      c["torch_dtype"] = "bfloat16";
      break;
    case GgmlType::F16:
      c["torch_dtype"] = "float16";
      break;
    default:
      c["torch_dtype"] = "float32";
  }
  return c;
}

std::string prepare_gguf_folder(const std::string& gguf_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path abs = fs::canonical(gguf_path, ec);
  if (ec) fail_input(gguf_path, ": cannot open (", ec.message(), ")");
  struct stat st {};
  if (::stat(abs.c_str(), &st) != 0) fail_input(gguf_path, ": cannot stat");
  const std::string key = abs.string() + "|" + std::to_string(st.st_size) + "|" +
                          std::to_string(st.st_mtim.tv_sec) + "." +
                          std::to_string(st.st_mtim.tv_nsec);
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(key));
  const std::string dir =
      path_join(path_join(cache_root(), "gguf"), abs.stem().string() + "-" + hash);
  if (file_exists(path_join(dir, kGgufSourceFile))) return dir;
  GgufFile g = GgufFile::open(abs.string(), LoadMode::Map);
  json config = gguf_model_config(g);
  auto [tokenizer, tokenizer_config] = gguf_tokenizer_files(g);
  const std::string tmp = dir + ".tmp" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) fail_input(tmp, ": cannot create the GGUF cache folder (", ec.message(), ")");
  write_file_atomic(path_join(tmp, "config.json"), config.dump(2));
  write_file_atomic(path_join(tmp, "tokenizer.json"), tokenizer.dump());
  write_file_atomic(path_join(tmp, "tokenizer_config.json"), tokenizer_config.dump(2));
  write_file_atomic(path_join(tmp, kGgufSourceFile), abs.string());
  fs::rename(tmp, dir, ec);
  if (ec) {  // another process made it first: use theirs
    fs::remove_all(tmp, ec);
    if (!file_exists(path_join(dir, kGgufSourceFile)))
      fail_input(dir, ": cannot create the GGUF cache folder");
  }
  return dir;
}

std::string joined_kv_b_name(const std::string& name) {
  if (!ends_with(name, "attn_k_b.weight") && !ends_with(name, "attn_v_b.weight")) return "";
  return name.substr(0, name.size() - 15) + "attn_kv_b.weight";  // "attn_?_b.weight": 15
}

WeightStore open_gguf_folder(const std::string& dir, LoadMode mode) {
  std::string path = read_file(path_join(dir, kGgufSourceFile));
  GgufFile g = GgufFile::open(path, mode);
  // The file's tensors under the names of the table of the config read from its metadata.
  std::map<std::string, std::vector<const TensorSpec*>> by_gguf;  // several: DeepSeek's experts
  const std::vector<TensorSpec> table = tensor_table(ModelConfig::load(dir));
  for (const TensorSpec& s : table)
    if (!s.gguf.empty()) by_gguf[s.gguf].push_back(&s);
  WeightStore store;
  std::map<std::string, Tensor> k_b, v_b;  // DeepSeek's split kv_b, by its attn_kv_b name
  for (const auto& info : g.tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // config.json's rope_scaling (above)
    if (const std::string kv = joined_kv_b_name(info.name); !kv.empty()) {
      const bool is_k = ends_with(info.name, "attn_k_b.weight");
      if (!by_gguf.count(kv)) fail_input(path, ": tensor ", info.name, " is not one r1 reads");
      (is_k ? k_b : v_b)[kv] = g.tensor(info.name);
      continue;
    }
    auto it = by_gguf.find(info.name);
    if (it == by_gguf.end())
      fail_input(path, ": tensor ", info.name, " is not one r1 reads for ",
                 g.get_string("general.architecture"));
    if (it->second.size() > 1) {  // one tensor of all experts: a view of each
      const Tensor all = g.tensor(info.name);
      const std::vector<int64_t>& one = it->second[0]->shape;
      const int64_t n = static_cast<int64_t>(it->second.size());
      if (all.ndim() != 3 || all.dim(0) != n || all.dim(1) != one[0] || all.dim(2) != one[1])
        fail_input(path, ": tensor ", info.name, " has shape ", shape_str(all.shape), ", not ", n,
                   " experts of ", shape_str(one));
      const size_t bytes = all.nbytes() / static_cast<size_t>(n);
      for (const TensorSpec* s : it->second)
        store.add_tensor(
            s->name,
            Tensor::view_of(all.dtype, one,
                            static_cast<char*>(all.data) + static_cast<size_t>(s->expert) * bytes,
                            all.owner),
            path);
      continue;
    }
    const TensorSpec& s = *it->second[0];
    Tensor t = g.tensor(info.name);
    if (s.rope_heads > 0) {
      const int64_t rows = t.ndim() == 1 ? t.numel() : t.dim(0);
      if (rows % (2 * s.rope_heads) != 0)
        fail_input(path, ": tensor ", info.name, " has ", rows, " rows, not whole heads of ",
                   s.rope_heads);
      t = reorder_rope_rows(t, s.rope_heads, /*to_gguf=*/false);
    }
    store.add_tensor(s.name, std::move(t), path);
  }
  for (const auto& [kv, k] : k_b) {
    if (!v_b.count(kv)) fail_input(path, ": ", kv, " is split, but its attn_v_b is missing");
    store.add_tensor(by_gguf[kv][0]->name, join_kv_b(k, v_b[kv], path + ": " + kv), path);
  }
  for (const auto& [kv, v] : v_b)
    if (!k_b.count(kv)) fail_input(path, ": ", kv, " is split, but its attn_k_b is missing");
  return store;
}

size_t gguf_to_folder(const std::string& gguf_path, const std::string& out, DType dequantized) {
  namespace fs = std::filesystem;
  if (dequantized != DType::F32 && dequantized != DType::BF16 && dequantized != DType::F16)
    fail_usage("quantized tensors become f32, bf16 or f16 in a Hugging Face folder");
  if (fs::exists(out)) fail_input(out, ": already exists (r1 writes a new folder)");
  const std::string cache = prepare_gguf_folder(gguf_path);
  WeightStore store = open_gguf_folder(cache, LoadMode::Map);
  std::map<std::string, Tensor> tensors;
  for (const auto& name : store.names()) {
    Tensor t = store.get(name);
    if (is_block_type(t.dtype))
      t = tensor_from_f32(tensor_values_f32(t, name), t.shape, dequantized);
    tensors[name] = std::move(t);
  }
  const std::string tmp = out + ".tmp" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) fail_input(tmp, ": cannot create the folder (", ec.message(), ")");
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(path_join(cache, f), path_join(tmp, f), ec);
  if (ec) fail_input(tmp, ": cannot write (", ec.message(), ")");
  write_safetensors(path_join(tmp, "model.safetensors"), tensors,
                    {{"format", "pt"}, {"source", "r1 convert from " + gguf_path}});
  fs::rename(tmp, out, ec);
  if (ec) fail_input(out, ": cannot move the finished folder into place (", ec.message(), ")");
  return tensors.size();
}

}  // namespace r1::io
