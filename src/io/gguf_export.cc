#include "io/gguf_export.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file_util.h"
#include "core/quant.h"
#include "core/threads.h"
#include "io/gguf.h"
#include "io/gguf_import.h"
#include "io/gguf_tokenizer.h"
#include "io/model_config.h"
#include "io/rope_freqs.h"
#include "io/safetensors.h"
#include "io/tensor_table.h"

namespace r1::io {

using nlohmann::json;

namespace {

// A stored tensor's values as f32 (F32, BF16, F16).
std::vector<float> to_f32(const Tensor& t, const std::string& name) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype) {
      case DType::F32:
        out[i] = t.ptr<float>()[i];
        break;
      case DType::BF16:
        out[i] = bf16_to_f32(t.ptr<uint16_t>()[i]);
        break;
      case DType::F16:
        out[i] = f16_to_f32(t.ptr<uint16_t>()[i]);
        break;
      default:
        fail_input("tensor ", name, " is ", dtype_name(t.dtype),
                   "; r1 converts F32, BF16 and F16 checkpoints to GGUF");
    }
  }
  return out;
}

Tensor encode(const std::vector<float>& x, std::vector<int64_t> shape, DType type) {
  Tensor t = Tensor::zeros(type, shape);
  int64_t n = static_cast<int64_t>(x.size());
  switch (type) {
    case DType::F32:
      std::copy(x.begin(), x.end(), t.ptr<float>());
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) t.ptr<uint16_t>()[i] = f32_to_bf16(x[i]);
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) t.ptr<uint16_t>()[i] = f32_to_f16(x[i]);
      break;
    default: {  // a block type, rows in parallel
      const int64_t cols = shape.back();
      thread_pool().parallel_range(n / cols, 8, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) quantize_row(type, x.data() + r * cols, t.row(r), cols);
      });
    }
  }
  return t;
}

json read_json_file(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    fail_input(path, ": not valid JSON: ", e.what());
  }
}

}  // namespace

size_t export_gguf(const std::string& dir, const std::string& out,
                   const GgufExportOptions& options) {
  ModelConfig c = ModelConfig::load(dir);
  if (c.arch == Arch::DeepseekV3)
    fail_input(dir, ": GGUF export covers Qwen2 and Llama models (DeepSeek-V3 is not done yet)");
  if (c.rope_scaling.type != "" && c.rope_scaling.type != "default" &&
      !(c.arch == Arch::Llama && c.rope_scaling.type == "llama3"))
    fail_input(dir, ": rope_scaling \"", c.rope_scaling.type, "\" is not exported to GGUF yet");
  const std::string arch = c.arch == Arch::Qwen2 ? "qwen2" : "llama";
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
      {arch + ".attention.head_count_kv", u32(c.n_kv_heads)},
      {arch + ".rope.freq_base", GgufValue::of_float(c.rope_theta)},
      {arch + ".attention.layer_norm_rms_epsilon", GgufValue::of_float(c.rms_norm_eps)}};
  if (c.arch == Arch::Llama) {
    meta.emplace_back(arch + ".rope.dimension_count", u32(c.head_dim));
    meta.emplace_back(arch + ".attention.key_length", u32(c.head_dim));
    meta.emplace_back(arch + ".attention.value_length", u32(c.head_dim));
    meta.emplace_back(arch + ".vocab_size", u32(c.vocab));
  }
  json tok = read_json_file(path_join(dir, "tokenizer.json"));
  json tok_config = file_exists(path_join(dir, "tokenizer_config.json"))
                        ? read_json_file(path_join(dir, "tokenizer_config.json"))
                        : json::object();
  for (auto& kv : gguf_tokenizer_metadata(tok, tok_config, c.vocab, dir))
    meta.push_back(std::move(kv));

  WeightStore store = WeightStore::open_dir(dir, LoadMode::Map);  // each tensor read once
  // What to write, checked up front; each tensor is converted only when it is written.
  struct Item {
    std::string hf;  // the checkpoint's tensor, encoded when written
    int64_t rope_heads;
    Tensor ready;  // or this, written as it is
  };
  std::vector<Item> items;
  std::vector<GgufTensorSpec> specs;
  for (const TensorSpec& s : tensor_table(c)) {
    if (!s.stored()) continue;
    const std::string& hf = s.name;
    if (!store.has(hf)) fail_input(dir, ": tensor ", hf, " is missing");
    const TensorInfo& info = store.info(hf);
    if (info.shape != s.shape)
      fail_input(dir, ": tensor ", hf, " has shape ", shape_str(info.shape),
                 " but config.json implies ", shape_str(s.shape));
    const bool matrix = s.storage != Storage::Float;
    const DType type = matrix ? quant_mix_type(options.mix, hf, info.shape.back(), c.n_layers,
                                               c.tie_word_embeddings)
                              : DType::F32;
    if (info.shape.back() % dtype_block(type) != 0)
      fail_input("tensor ", hf, ": rows of ", info.shape.back(), " values are not whole ",
                 dtype_name(type), " blocks of ", dtype_block(type),
                 " (write this model as bf16, f16 or f32)");
    items.push_back({hf, s.rope_heads, Tensor()});
    specs.push_back({s.gguf, type, info.shape});
  }
  // Llama 3's rope scaling: the divisors tensor llama.cpp reads (io/rope_freqs.h).
  if (c.rope_scaling.type == "llama3") {
    const std::vector<float> f = llama3_freq_factors(c.head_dim, c.rope_theta, c.rope_scaling);
    const int64_t n = static_cast<int64_t>(f.size());
    Tensor rope_freqs = Tensor::empty(DType::F32, {n});
    std::copy(f.begin(), f.end(), rope_freqs.ptr<float>());
    items.push_back({"", 0, rope_freqs});
    specs.push_back({"rope_freqs.weight", DType::F32, {n}});
  }
  write_gguf(out, meta, specs, [&](size_t i) {
    const Item& it = items[i];
    if (it.ready.defined()) return it.ready;
    Tensor t = store.get(it.hf);
    Tensor e = encode(to_f32(t, it.hf), t.shape, specs[i].dtype);
    // rows are encoded independently (blocks lie within a row), so reorder after encoding
    return it.rope_heads > 0 ? reorder_rope_rows(e, it.rope_heads, /*to_gguf=*/true) : e;
  });
  return specs.size();
}

}  // namespace r1::io
