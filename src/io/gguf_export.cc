#include "io/gguf_export.h"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "io/gguf.h"
#include "io/gguf_import.h"
#include "io/gguf_tokenizer.h"
#include "io/model_config.h"
#include "io/rope_freqs.h"
#include "io/safetensors.h"
#include "io/tensor_table.h"
#include "io/tensor_values.h"

namespace r1::io {

using nlohmann::json;

namespace {

// A checkpoint matrix as f32: its values, or DeepSeek's fp8 rows times their block scales
// (`<prefix>.weight_scale_inv`, one per block_out x block_in block).
std::vector<float> read_f32(const WeightStore& store, const std::string& name,
                            const ModelConfig& c) {
  Tensor t = store.get(name);
  if (t.dtype != DType::F8_E4M3) return tensor_values_f32(t, name);
  const std::string scale_name = name.substr(0, name.size() - 7) + ".weight_scale_inv";
  if (t.ndim() != 2 || !store.has(scale_name))
    fail_input("tensor ", name, " is fp8 without its block scales ", scale_name);
  const Tensor sc = store.get(scale_name);
  const int64_t rows = t.dim(0), cols = t.dim(1), bn = c.ds.fp8_block_out, bk = c.ds.fp8_block_in;
  if (sc.dtype != DType::F32 || sc.ndim() != 2 || sc.dim(0) != (rows + bn - 1) / bn ||
      sc.dim(1) != (cols + bk - 1) / bk)
    fail_input("tensor ", scale_name, " has shape ", shape_str(sc.shape), " for ", name, " of ",
               shape_str(t.shape), " in blocks of ", bn, " x ", bk);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  const uint8_t* q = t.ptr<uint8_t>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      out[r * cols + k] =
          fp8_e4m3_to_f32(q[r * cols + k]) * sc.ptr<float>()[(r / bn) * sc.dim(1) + k / bk];
  return out;
}

json read_json_file(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail_input(path, ": not valid JSON: ", e.what());
  }
}

// llama.cpp's deepseek2 hyper-parameters (its converter's DeepseekV2Model, read for the keys).
// MLA is written as llama.cpp runs it: one kv head of kv_lora_rank + rope values, the per-head
// sizes under key_length_mla / value_length_mla.
void deepseek2_metadata(const ModelConfig& c, std::vector<std::pair<std::string, GgufValue>>* m) {
  const DeepseekConfig& d = c.ds;
  const std::string a = "deepseek2.";
  auto u32 = [](int64_t v) { return GgufValue::of_int(GgufType::U32, v); };
  auto add = [&](const std::string& k, GgufValue v) { m->emplace_back(a + k, std::move(v)); };
  add("vocab_size", u32(c.vocab));
  add("leading_dense_block_count", u32(std::min(d.first_k_dense_replace, c.n_layers)));
  // 0 when q_proj is used: llama.cpp reads the key (its converter omits it then)
  add("attention.q_lora_rank", u32(d.q_lora_rank));
  add("attention.kv_lora_rank", u32(d.kv_lora_rank));
  add("attention.key_length", u32(d.kv_lora_rank + d.qk_rope_head_dim));
  add("attention.value_length", u32(d.kv_lora_rank));
  add("attention.key_length_mla", u32(d.qk_nope_head_dim + d.qk_rope_head_dim));
  add("attention.value_length_mla", u32(d.v_head_dim));
  add("rope.dimension_count", u32(d.qk_rope_head_dim));
  add("expert_feed_forward_length", u32(d.moe_intermediate));
  add("expert_count", u32(d.n_routed_experts));
  add("expert_used_count", u32(d.experts_per_tok));
  add("expert_shared_count", u32(d.n_shared_experts));
  add("expert_group_count", u32(d.n_group));
  add("expert_group_used_count", u32(d.topk_group));
  add("expert_weights_scale", GgufValue::of_float(d.routed_scaling_factor));
  add("expert_weights_norm", GgufValue::of_bool(d.norm_topk_prob));
  add("expert_gating_func", u32(2));  // sigmoid (llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_SIGMOID)
  const RopeScaling& r = c.rope_scaling;
  if (r.type == "yarn") {
    add("rope.scaling.type", GgufValue::of_string("yarn"));
    add("rope.scaling.factor", GgufValue::of_float(r.factor));
    add("rope.scaling.original_context_length", u32(r.original_max_position_embeddings));
    add("rope.scaling.yarn_beta_fast", GgufValue::of_float(r.beta_fast));
    add("rope.scaling.yarn_beta_slow", GgufValue::of_float(r.beta_slow));
    // 0.1 * mscale_all_dim, as llama.cpp's converter writes it (and divides out when reading)
    add("rope.scaling.yarn_log_multiplier", GgufValue::of_float(0.1 * r.mscale_all_dim));
  }
}

// What a GGUF file of `c` can say: llama.cpp's deepseek2 takes yarn's mscale equal to
// mscale_all_dim (its rope attention factor is their ratio, 1) and every layer past the leading
// dense ones as MoE.
void check_exportable(const ModelConfig& c, const std::string& dir) {
  const std::string& t = c.rope_scaling.type;
  const bool ds = c.arch == Arch::DeepseekV3;
  if (ds && c.ds.moe_layer_freq != 1)
    fail_input(dir, ": moe_layer_freq ", c.ds.moe_layer_freq,
               " has no GGUF form (llama.cpp's deepseek2 makes every layer after the leading dense "
               "ones an MoE layer)");
  if (t.empty() || t == "default" || (c.arch == Arch::Llama && t == "llama3")) return;
  if (ds && t == "yarn") {
    const RopeScaling& r = c.rope_scaling;
    if (r.mscale_all_dim == 0 || r.mscale != r.mscale_all_dim)
      fail_input(dir, ": rope_scaling yarn with mscale ", r.mscale, " and mscale_all_dim ",
                 r.mscale_all_dim,
                 " has no GGUF form (llama.cpp's deepseek2 takes the two equal, as DeepSeek's "
                 "checkpoints have them)");
    return;
  }
  fail_input(dir, ": rope_scaling \"", t, "\" is not exported to GGUF yet");
}

}  // namespace

GgufExportResult export_gguf(const std::string& dir, const std::string& out,
                             const GgufExportOptions& options) {
  ModelConfig c = ModelConfig::load(dir);
  check_exportable(c, dir);
  const bool ds = c.arch == Arch::DeepseekV3;
  const std::string arch = ds ? "deepseek2" : c.arch == Arch::Qwen2 ? "qwen2" : "llama";
  std::string name = options.name;
  if (name.empty()) {
    std::string d = dir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    name = d.substr(d.find_last_of('/') == std::string::npos ? 0 : d.find_last_of('/') + 1);
  }
  auto u32 = [](int64_t v) { return GgufValue::of_int(GgufType::U32, v); };
  std::vector<std::pair<std::string, GgufValue>> meta = {
      {"general.architecture", GgufValue::of_string(arch)},
      {"general.name", GgufValue::of_string(name)},
      {"general.file_type", u32(quant_mix_file_type(options.mix))},
      {"general.quantization_version", u32(2)},
      {arch + ".context_length", u32(c.max_position_embeddings)},
      {arch + ".embedding_length", u32(c.hidden)},
      {arch + ".block_count", u32(c.n_layers)},
      {arch + ".feed_forward_length", u32(c.intermediate)},
      {arch + ".attention.head_count", u32(c.n_heads)},
      {arch + ".attention.head_count_kv", u32(ds ? 1 : c.n_kv_heads)},
      {arch + ".rope.freq_base", GgufValue::of_float(c.rope_theta)},
      {arch + ".attention.layer_norm_rms_epsilon", GgufValue::of_float(c.rms_norm_eps)}};
  if (c.arch == Arch::Llama) {
    meta.emplace_back(arch + ".rope.dimension_count", u32(c.head_dim));
    meta.emplace_back(arch + ".attention.key_length", u32(c.head_dim));
    meta.emplace_back(arch + ".attention.value_length", u32(c.head_dim));
    meta.emplace_back(arch + ".vocab_size", u32(c.vocab));
  }
  if (ds) deepseek2_metadata(c, &meta);
  json tok = read_json_file(path_join(dir, "tokenizer.json"));
  json tok_config = file_exists(path_join(dir, "tokenizer_config.json"))
                        ? read_json_file(path_join(dir, "tokenizer_config.json"))
                        : json::object();
  for (auto& kv : gguf_tokenizer_metadata(tok, tok_config, c.vocab, dir))
    meta.push_back(std::move(kv));

  WeightStore store = WeightStore::open_dir(dir, LoadMode::Map);  // each tensor read once
  // What to write, checked up front; each tensor is made only when it is written.
  GgufExportResult result;
  std::vector<std::function<Tensor(int64_t)>> make;  // (part)
  std::vector<GgufTensorSpec> specs;
  std::map<std::string, size_t> stacked;  // DeepSeek's ffn_*_exps: the spec of all experts
  std::map<size_t, std::vector<std::string>> experts;
  for (const TensorSpec& s : tensor_table(c)) {
    if (!s.stored() || s.gguf.empty()) continue;
    const std::string& hf = s.name;
    if (!store.has(hf)) {
      if (s.optional) continue;
      fail_input(dir, ": tensor ", hf, " is missing");
    }
    const TensorInfo& info = store.info(hf);
    if (info.shape != s.shape)
      fail_input(dir, ": tensor ", hf, " has shape ", shape_str(info.shape),
                 " but config.json implies ", shape_str(s.shape));
    const bool matrix = s.storage != Storage::Float && s.storage != Storage::F32;
    const int64_t cols = s.shape.back();
    auto type_of = [&](int64_t n, const std::string& gguf) {
      if (!matrix) return DType::F32;
      const DType t = quant_mix_type(options.mix, hf, n, c.n_layers, c.tie_word_embeddings);
      if (t == DType::F16 && is_quantized(options.mix)) result.f16_fallback.push_back(gguf);
      return t;
    };
    if (s.expert >= 0) {  // one tensor [experts, rows, cols], its parts listed when all are seen
      auto [it, fresh] = stacked.emplace(s.gguf, specs.size());
      if (fresh) {
        specs.push_back({s.gguf, type_of(cols, s.gguf), {0, s.shape[0], cols}});
        make.emplace_back();
      }
      experts[it->second].push_back(hf);
      specs[it->second].shape[0] += 1;
      continue;
    }
    if (ds && s.role == Role::KvB) {
      // llama.cpp's MLA reads kv_b split per head: attn_k_b [heads, kv_lora, nope] (k's rows
      // transposed) and attn_v_b [heads, v, kv_lora].
      const DeepseekConfig& d = c.ds;
      const int64_t nh = c.n_heads, nope = d.qk_nope_head_dim, v = d.v_head_dim,
                    lora = d.kv_lora_rank;
      const std::string base = s.gguf.substr(0, s.gguf.size() - std::string("kv_b.weight").size());
      const DType tk = type_of(nope, base + "k_b.weight"), tv = type_of(lora, base + "v_b.weight");
      auto part = [&store, &c, hf, nh, nope, v, lora](bool k, DType type) {
        return [&store, &c, hf, nh, nope, v, lora, k, type](int64_t) {
          const std::vector<float> kv = read_f32(store, hf, c);
          std::vector<float> x(static_cast<size_t>(nh * (k ? nope : v) * lora));
          float* p = x.data();
          for (int64_t h = 0; h < nh; ++h) {
            const float* head = kv.data() + h * (nope + v) * lora;  // nope rows, then v rows
            if (k) {
              for (int64_t j = 0; j < lora; ++j)
                for (int64_t i = 0; i < nope; ++i) *p++ = head[i * lora + j];
            } else {
              p = std::copy(head + nope * lora, head + (nope + v) * lora, p);
            }
          }
          return tensor_from_f32(
              x, k ? std::vector<int64_t>{nh, lora, nope} : std::vector<int64_t>{nh, v, lora},
              type);
        };
      };
      specs.push_back({base + "k_b.weight", tk, {nh, lora, nope}});
      make.push_back(part(true, tk));
      specs.push_back({base + "v_b.weight", tv, {nh, v, lora}});
      make.push_back(part(false, tv));
      continue;
    }
    const DType type = type_of(cols, s.gguf);
    specs.push_back({s.gguf, type, info.shape});
    make.push_back([&store, &c, hf, type, shape = info.shape, heads = s.rope_heads](int64_t) {
      Tensor e = tensor_from_f32(read_f32(store, hf, c), shape, type);
      // rows are encoded independently (blocks lie within a row), so reorder after encoding
      return heads > 0 ? reorder_rope_rows(e, heads, /*to_gguf=*/true) : e;
    });
  }
  for (auto& [i, names] : experts) {
    specs[i].parts = static_cast<int64_t>(names.size());  // written one expert at a time
    make[i] = [&store, &c, names = names, spec = specs[i]](int64_t e) {
      return tensor_from_f32(read_f32(store, names[e], c), {spec.shape[1], spec.shape[2]},
                             spec.dtype);
    };
  }
  // Llama 3's rope scaling: the divisors tensor llama.cpp reads (io/rope_freqs.h).
  if (c.rope_scaling.type == "llama3") {
    const std::vector<float> f = llama3_freq_factors(c.head_dim, c.rope_theta, c.rope_scaling);
    const int64_t n = static_cast<int64_t>(f.size());
    Tensor rope_freqs = Tensor::empty(DType::F32, {n});
    std::copy(f.begin(), f.end(), rope_freqs.ptr<float>());
    specs.push_back({"rope_freqs.weight", DType::F32, {n}});
    make.push_back([rope_freqs](int64_t) { return rope_freqs; });
  }
  write_gguf(
      out, meta, specs, [&](size_t i, int64_t part) { return make[i](part); }, options.alignment);
  result.tensors = specs.size();
  return result;
}

}  // namespace r1::io
