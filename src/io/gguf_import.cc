#include "io/gguf_import.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include "core/error.h"
#include "core/file_util.h"
#include "core/quant.h"
#include "io/gguf_tokenizer.h"
#include "io/rope_freqs.h"
#include "io/safetensors.h"
#include "io/tensor_table.h"

namespace r1::io {

using nlohmann::json;

namespace {

std::string cache_root() {
  if (const char* d = std::getenv("R1_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return path_join(d, "r1");
  if (const char* h = std::getenv("HOME"); h && *h) return path_join(h, ".cache/r1");
  return "/tmp/r1-cache";
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
  if (arch != "qwen2" && arch != "llama")
    fail_input(g.path(), ": architecture \"", arch,
               "\" is not read from GGUF yet (qwen2 and llama are)");
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
  int64_t rope_dim = heads > 0 ? hidden / heads : 0;
  if (heads > 0 && g.find(arch + ".rope.dimension_count")) {
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

WeightStore open_gguf_folder(const std::string& dir, LoadMode mode) {
  std::string path = read_file(path_join(dir, kGgufSourceFile));
  GgufFile g = GgufFile::open(path, mode);
  // The file's tensors under the names of the table of the config read from its metadata.
  std::map<std::string, const TensorSpec*> by_gguf;
  const std::vector<TensorSpec> table = tensor_table(ModelConfig::load(dir));
  for (const TensorSpec& s : table)
    if (!s.gguf.empty()) by_gguf[s.gguf] = &s;
  WeightStore store;
  for (const auto& info : g.tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // config.json's rope_scaling (above)
    auto it = by_gguf.find(info.name);
    if (it == by_gguf.end())
      fail_input(path, ": tensor ", info.name, " is not one r1 reads for ",
                 g.get_string("general.architecture"));
    const TensorSpec& s = *it->second;
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
    if (is_block_type(t.dtype)) {
      std::vector<float> f(static_cast<size_t>(t.numel()));
      const int64_t cols = t.shape.back();
      for (int64_t r = 0; r < t.numel() / cols; ++r)
        dequantize_row(t.dtype, t.row(r), f.data() + r * cols, cols);
      Tensor d = Tensor::zeros(dequantized, t.shape);
      for (size_t i = 0; i < f.size(); ++i) {
        if (dequantized == DType::F32) d.ptr<float>()[i] = f[i];
        if (dequantized == DType::BF16) d.ptr<uint16_t>()[i] = f32_to_bf16(f[i]);
        if (dequantized == DType::F16) d.ptr<uint16_t>()[i] = f32_to_f16(f[i]);
      }
      t = std::move(d);
    }
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
