// r1 convert / r1 quantize: Hugging Face folders written as GGUF, checked field by field against
// the folder they came from, and bad requests refused with one line and exit code 2; and GGUF
// files as -m: the same ids, prompts and log-probabilities as the folder they were written from.
// (That llama.cpp runs these files as r1 runs the folders is bench/gguf_vs_llamacpp.sh's check.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_run.h"
#include "core/dtype.h"
#include "core/file_util.h"
#include "gguf_expect.h"
#include "io/gguf.h"
#include "io/model_config.h"
#include "io/safetensors.h"
#include "models/rope.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using r1::testing::expect_tensor_types;
using r1::testing::run_r1;
using r1::testing::source;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("r1_convert_" + std::to_string(getpid()) + "_" + name))
      .string();
}

// A Llama checkpoint folder: the llama-bf16-sharded fixture (random weights, q/k/v biases,
// 8 heads / 2 kv of 8), or another, with a tokenizer of `vocab` ids r1 trains on README.md.
std::string llama_folder(const std::string& name, const std::string& fixture = "llama-bf16-sharded",
                         int vocab = 380) {
  const std::string dir = temp(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(source("tests/fixtures/models/" + fixture)))
    if (e.path().filename().string().find("golden") == std::string::npos)
      fs::copy(e.path(), dir + "/" + e.path().filename().string());
  auto r = run_r1("train tokenizer --corpus " + source("README.md") + " --vocab-size " +
                  std::to_string(vocab) + " --out " + dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return dir;
}

// The stored values of a tensor as f32.
std::vector<float> values(const r1::Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.dtype == r1::DType::F32) v[i] = t.ptr<float>()[i];
    if (t.dtype == r1::DType::BF16) v[i] = r1::bf16_to_f32(t.ptr<uint16_t>()[i]);
    if (t.dtype == r1::DType::Q8_0) {
      r1::dequantize_q8_0(t.data, v.data(), t.numel());
      break;
    }
  }
  return v;
}

TEST(ConvertCli, Qwen2FolderAsGgufMetadataAndTensors) {
  const std::string dir = source("models/r1-arith");
  const std::string out = temp("arith.gguf");
  auto r = run_r1("convert -m " + dir + " --type f32 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile g = r1::io::GgufFile::open(out);
  json config = json::parse(r1::read_file(dir + "/config.json"));
  json tok = json::parse(r1::read_file(dir + "/tokenizer.json"));
  json tok_config = json::parse(r1::read_file(dir + "/tokenizer_config.json"));
  EXPECT_EQ(g.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(g.get_string("general.name"), "r1-arith");
  EXPECT_EQ(g.get_int("qwen2.block_count"), config["num_hidden_layers"].get<int64_t>());
  EXPECT_EQ(g.get_int("qwen2.embedding_length"), config["hidden_size"].get<int64_t>());
  EXPECT_EQ(g.get_int("qwen2.feed_forward_length"), config["intermediate_size"].get<int64_t>());
  EXPECT_EQ(g.get_int("qwen2.attention.head_count"), config["num_attention_heads"].get<int64_t>());
  EXPECT_EQ(g.get_int("qwen2.attention.head_count_kv"),
            config["num_key_value_heads"].get<int64_t>());
  EXPECT_EQ(g.get_int("qwen2.context_length"), config["max_position_embeddings"].get<int64_t>());
  EXPECT_FLOAT_EQ(static_cast<float>(g.get_float("qwen2.rope.freq_base")), 10000.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(g.get_float("qwen2.attention.layer_norm_rms_epsilon")), 1e-6f);
  // the tokenizer: every vocabulary entry and added token at its id, merges in order
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(g.get_string("tokenizer.ggml.pre"), "qwen2");
  const auto& tokens = g.find("tokenizer.ggml.tokens")->strings;
  const auto& types = g.find("tokenizer.ggml.token_type")->ints;
  ASSERT_EQ(tokens.size(), config["vocab_size"].get<size_t>());
  for (auto it = tok["model"]["vocab"].begin(); it != tok["model"]["vocab"].end(); ++it) {
    EXPECT_EQ(tokens[it.value().get<size_t>()], it.key());
    EXPECT_EQ(types[it.value().get<size_t>()], 1);
  }
  for (const json& a : tok["added_tokens"]) {
    EXPECT_EQ(tokens[a["id"].get<size_t>()], a["content"].get<std::string>());
    EXPECT_EQ(types[a["id"].get<size_t>()], a["special"].get<bool>() ? 3 : 4);
  }
  const auto& merges = g.find("tokenizer.ggml.merges")->strings;
  ASSERT_EQ(merges.size(), tok["model"]["merges"].size());
  EXPECT_EQ(merges[0], tok["model"]["merges"][0][0].get<std::string>() + " " +
                           tok["model"]["merges"][0][1].get<std::string>());
  EXPECT_EQ(g.get_int("tokenizer.ggml.bos_token_id"), config["bos_token_id"].get<int64_t>());
  EXPECT_EQ(g.get_int("tokenizer.ggml.eos_token_id"), config["eos_token_id"].get<int64_t>());
  EXPECT_EQ(g.get_int("tokenizer.ggml.add_bos_token"), 1);
  EXPECT_EQ(g.get_string("tokenizer.chat_template"),
            tok_config["chat_template"].get<std::string>());
  // tensors: tied embeddings (no output.weight), f32 values byte for byte
  auto store = r1::io::WeightStore::open_dir(dir);
  EXPECT_EQ(g.tensors().size(), 2 + 12 * config["num_hidden_layers"].get<size_t>());
  EXPECT_EQ(g.tensor_info("output.weight"), nullptr);
  for (auto [hf, gg] :
       {std::pair<const char*, const char*>{"model.embed_tokens.weight", "token_embd.weight"},
        {"model.layers.2.self_attn.q_proj.weight", "blk.2.attn_q.weight"},
        {"model.layers.2.self_attn.k_proj.bias", "blk.2.attn_k.bias"},
        {"model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight"},
        {"model.norm.weight", "output_norm.weight"}}) {
    r1::Tensor a = store.get(hf), b = g.tensor(gg);
    EXPECT_EQ(a.shape, b.shape) << gg;
    EXPECT_EQ(values(a), values(b)) << gg;
  }
  std::remove(out.c_str());
}

TEST(ConvertCli, QuantizeWritesQ8_0MatricesAndF32Norms) {
  const std::string dir = source("models/r1-arith");
  const std::string out = temp("arith-q8.gguf");
  auto r = run_r1("quantize -m " + dir + " --type q8_0 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile g = r1::io::GgufFile::open(out);
  EXPECT_EQ(g.get_int("general.file_type"), 7);
  EXPECT_EQ(g.tensor_info("blk.0.attn_q.weight")->type, r1::io::GgmlType::Q8_0);
  EXPECT_EQ(g.tensor_info("token_embd.weight")->type, r1::io::GgmlType::Q8_0);
  EXPECT_EQ(g.tensor_info("blk.0.attn_norm.weight")->type, r1::io::GgmlType::F32);
  EXPECT_EQ(g.tensor_info("blk.0.attn_q.bias")->type, r1::io::GgmlType::F32);
  auto store = r1::io::WeightStore::open_dir(dir);
  std::vector<float> hf = values(store.get("model.layers.1.mlp.up_proj.weight"));
  std::vector<float> q = values(g.tensor("blk.1.ffn_up.weight"));
  ASSERT_EQ(hf.size(), q.size());
  // per block: at most half a step d/2, d = amax / 127 rounded to f16 (relative 2^-11)
  for (size_t b = 0; b < hf.size(); b += 32) {
    float amax = 0;
    for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(hf[i]));
    for (size_t i = b; i < b + 32; ++i)
      ASSERT_LE(std::fabs(hf[i] - q[i]), amax / 127 * 0.5f + amax / 1024);
  }
  std::remove(out.c_str());
}

// llama.cpp's Q4_K_M mix on the bundled model (4 layers; rows of 192 and 512): Q4_K where rows
// are whole 256-blocks, Q6_K for v_proj / down_proj in the layers use_more_bits picks (2 and 3
// of 4) and for the output layer (the tied embeddings), and llama.cpp's fallbacks where rows of
// 192 are not (Q4_K -> Q5_0, Q6_K -> Q8_0). The file scores exactly as --quantize q4_k_m.
TEST(ConvertCli, QuantizeQ4_K_MMix) {
  using r1::io::GgmlType;
  const std::string cache = temp("cache-q4");
  const std::string arith = source("models/r1-arith");
  const std::string out = temp("arith-q4km.gguf");
  auto r = run_r1("quantize -m " + arith + " --type q4_k_m --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile g = r1::io::GgufFile::open(out);
  EXPECT_EQ(g.get_int("general.file_type"), 15);
  expect_tensor_types(g, {{"token_embd.weight", GgmlType::Q8_0},
                          {"blk.0.attn_q.weight", GgmlType::Q5_0},
                          {"blk.0.attn_v.weight", GgmlType::Q5_0},
                          {"blk.3.attn_v.weight", GgmlType::Q8_0},
                          {"blk.0.ffn_down.weight", GgmlType::Q4_K},
                          {"blk.1.ffn_down.weight", GgmlType::Q4_K},
                          {"blk.2.ffn_down.weight", GgmlType::Q6_K},
                          {"blk.3.ffn_down.weight", GgmlType::Q6_K},
                          {"blk.0.ffn_up.weight", GgmlType::Q5_0},
                          {"blk.0.attn_norm.weight", GgmlType::F32}});
  const std::string text = R"j({"text": "What is 48 + 27? 8 + 7 = 15, carry 1."})j"
                           "\n";
  auto folder = run_r1("score --jsonl --quantize q4_k_m -m " + arith, text);
  auto file = run_r1("score --jsonl -m " + out, text, "R1_CACHE_DIR=" + cache);
  ASSERT_EQ(file.code, 0) << file.err;
  EXPECT_EQ(json::parse(file.out), json::parse(folder.out));
  std::remove(out.c_str());
  fs::remove_all(cache);
}

// `r1 bench --dry-run` of a GGUF file counts each tensor in the type its header gives (not the
// config's torch_dtype): the bytes by type are the header's tensor sizes, and a decode step reads
// every tensor but the embedding, the tied embedding whole as the output layer, and one embedding
// row. (`r1 bench` counts the loaded weights, in the repacked layouts, one of which is larger:
// Q6_K_R8 keeps 16 more bytes per 8 rows of 256 weights.)
TEST(ConvertCli, DryRunOfAGgufCountsItsTypes) {
  const std::string cache = temp("cache-dry");
  const std::string out = temp("arith-dry-q4km.gguf");
  auto r = run_r1("quantize -m " + source("models/r1-arith") + " --type q4_k_m --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  std::map<std::string, double> by_type;
  double total = 0, embd_row = 0;
  {
    const r1::io::GgufFile g = r1::io::GgufFile::open(out);
    for (const r1::io::GgufTensorInfo& t : g.tensors()) {
      r1::DType d;
      ASSERT_TRUE(r1::io::ggml_to_dtype(t.type, &d)) << t.name;
      by_type[r1::dtype_name(d)] += static_cast<double>(t.bytes);
      total += static_cast<double>(t.bytes);
      if (t.name == "token_embd.weight") embd_row = static_cast<double>(t.bytes) / t.ne[1];
    }
  }
  ASSERT_GT(embd_row, 0);
  const std::string env = "R1_CACHE_DIR=" + cache;
  auto dry = run_r1("bench --dry-run --no-bandwidth --json -m " + out, "", env);
  ASSERT_EQ(dry.code, 0) << dry.err;
  const json d = json::parse(dry.out);
  EXPECT_EQ(d["weight_bytes"].get<double>(), total);
  ASSERT_EQ(d["weight_bytes_by_dtype"].size(), by_type.size()) << d.dump();
  for (const auto& [type, bytes] : by_type)
    EXPECT_EQ(d["weight_bytes_by_dtype"][type].get<double>(), bytes) << type;
  // The tied output layer reads the whole embedding, the input one row of it.
  EXPECT_EQ(d["active_bytes_per_token"].get<double>(), total + embd_row);
  std::remove(out.c_str());
  fs::remove_all(cache);
}

// Llama's q and k rows go from rotate-half order to llama.cpp's interleaved pairs, per head:
// GGUF row h*d + 2i + j is Hugging Face row h*d + j*d/2 + i (the biases too).
TEST(ConvertCli, LlamaQueryAndKeyRowsPermuted) {
  const std::string dir = llama_folder("llama");
  const std::string out = temp("llama.gguf");
  auto r = run_r1("convert -m " + dir + " --type f32 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile g = r1::io::GgufFile::open(out);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.rope.dimension_count"), 8);
  EXPECT_EQ(g.get_int("llama.vocab_size"), 419);
  EXPECT_EQ(g.find("tokenizer.ggml.tokens")->strings[418], "[PAD418]");
  EXPECT_EQ(g.find("tokenizer.ggml.token_type")->ints[418], 5);
  auto store = r1::io::WeightStore::open_dir(dir);
  const int64_t d = 8, cols = 64;
  for (auto [hf, gg, heads] :
       {std::tuple<const char*, const char*, int64_t>{"model.layers.1.self_attn.q_proj.weight",
                                                      "blk.1.attn_q.weight", 8},
        {"model.layers.1.self_attn.k_proj.weight", "blk.1.attn_k.weight", 2},
        {"model.layers.0.self_attn.q_proj.bias", "blk.0.attn_q.bias", 8}}) {
    std::vector<float> a = values(store.get(hf)), b = values(g.tensor(gg));
    int64_t c = std::string(gg).find("bias") != std::string::npos ? 1 : cols;
    ASSERT_EQ(a.size(), static_cast<size_t>(heads * d * c));
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < d / 2; ++i)
        for (int64_t j = 0; j < 2; ++j)
          for (int64_t k = 0; k < c; ++k)
            ASSERT_EQ(b[(h * d + 2 * i + j) * c + k], a[(h * d + j * d / 2 + i) * c + k]) << gg;
  }
  // v is not permuted
  EXPECT_EQ(values(store.get("model.layers.0.self_attn.v_proj.weight")),
            values(g.tensor("blk.0.attn_v.weight")));
  // the down projection's rows of 120 are not whole Q8_0 blocks: F16, as llama.cpp's quantizer
  // falls back, and said so
  r = run_r1("quantize -m " + dir + " --type q8_0 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("as F16"), std::string::npos) << r.err;
  r1::io::GgufFile q8 = r1::io::GgufFile::open(out);
  EXPECT_EQ(q8.tensor_info("blk.0.ffn_down.weight")->type, r1::io::GgmlType::F16);
  EXPECT_EQ(q8.tensor_info("blk.0.ffn_up.weight")->type, r1::io::GgmlType::Q8_0);
  // --quantize in memory follows the same rule (F16 there too): on an f32 checkpoint, whose
  // down projection F16 rounds, the file scores exactly as the folder does
  const std::string f32 = llama_folder("llama-f32", "llama-llama3rope-f32", 300);
  const std::string out32 = temp("llama-f32-q8.gguf"), cache = temp("cache-llama-q8");
  r = run_r1("quantize -m " + f32 + " --type q8_0 --out " + out32);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string text = R"j({"text": "the cat sat on the mat"})j"
                           "\n";
  auto folder = run_r1("score --jsonl --quantize q8_0 -m " + f32, text);
  auto file = run_r1("score --jsonl -m " + out32, text, "R1_CACHE_DIR=" + cache);
  ASSERT_EQ(folder.code, 0) << folder.err;
  ASSERT_EQ(file.code, 0) << file.err;
  EXPECT_EQ(json::parse(file.out), json::parse(folder.out));
  fs::remove_all(cache);
  fs::remove_all(f32);
  std::remove(out32.c_str());
  fs::remove_all(dir);
  std::remove(out.c_str());
}

TEST(ConvertCli, RefusalsAreOneLine) {
  const std::string out = temp("x.gguf");
  struct Case {
    std::string args, needle;
  };
  const std::string arith = source("models/r1-arith");
  for (const Case& c : std::vector<Case>{
           {"convert -m " + arith, "--out"},
           {"convert -m " + arith + " --out " + temp("x.bin"), ".gguf"},
           {"convert -m " + arith + " --type q4_k --out " + out, "--type"},
           {"quantize -m " + arith + " --out " + out, "--type is required"},
           {"quantize -m " + arith + " --type bf16 --out " + out, "writes q8_0"},
           {"convert -m " + source("tests/fixtures/models/dsv3-bf16") + " --out " + out,
            "tokenizer.json"},
           {"convert -m " + source("tests/fixtures/models/qwen2-f32") + " --out " + out,
            "tokenizer.json"},
       }) {
    auto r = run_r1(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(out));
}

// -m FILE.gguf: the model, tokenizer and chat template read from the file give what the folder
// gives. F32 files score exactly as the folder; a Q8_0 file exactly as --quantize q8_0 (the same
// blocks); the Llama file checks the q/k rows are turned back.
TEST(GgufInput, EveryCommandReadsTheFileAsTheFolder) {
  const std::string cache = temp("cache");
  const std::string env = "R1_CACHE_DIR=" + cache;
  const std::string arith = source("models/r1-arith");
  const std::string f32 = temp("in-f32.gguf"), q8 = temp("in-q8.gguf");
  ASSERT_EQ(run_r1("convert -m " + arith + " --type f32 --out " + f32).code, 0);
  ASSERT_EQ(run_r1("quantize -m " + arith + " --type q8_0 --out " + q8).code, 0);
  const std::string text =
      R"j({"text": "What is 48 + 27? Let me think: 8 + 7 = 15, carry 1. été 中"})j"
      "\n";
  auto folder = run_r1("score --jsonl -m " + arith, text);
  ASSERT_EQ(folder.code, 0) << folder.err;
  auto file = run_r1("score --jsonl -m " + f32, text, env);
  ASSERT_EQ(file.code, 0) << file.err;
  EXPECT_EQ(json::parse(file.out), json::parse(folder.out));
  auto folder_q8 = run_r1("score --jsonl --quantize q8_0 -m " + arith, text);
  auto file_q8 = run_r1("score --jsonl -m " + q8, text, env);
  ASSERT_EQ(file_q8.code, 0) << file_q8.err;
  EXPECT_EQ(json::parse(file_q8.out), json::parse(folder_q8.out));
  // the chat template and tokenizer from the metadata
  const std::string chat = R"j({"messages": [{"role": "user", "content": "What is 2 + 2?"}]})j";
  EXPECT_EQ(run_r1("template -m " + f32, chat, env).out, run_r1("template -m " + arith, chat).out);
  auto gen = [&](const std::string& m, const std::string& e) {
    return run_r1("generate --chat -p 'What is 123 + 456?' -n 24 --temperature 0 --json -m " + m,
                  "", e)
        .out;
  };
  EXPECT_EQ(gen(f32, env), gen(arith, ""));
  // a Llama checkpoint
  const std::string dir = llama_folder("llama-in");
  const std::string llama = temp("in-llama.gguf");
  ASSERT_EQ(run_r1("convert -m " + dir + " --type bf16 --out " + llama).code, 0);
  const std::string t2 = R"j({"text": "hello world 123 the quick brown fox"})j"
                         "\n";
  auto a = run_r1("score --jsonl -m " + dir, t2), b = run_r1("score --jsonl -m " + llama, t2, env);
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(json::parse(a.out), json::parse(b.out));
  // the cache folder is reused, and a damaged file is one line
  EXPECT_EQ(run_r1("score --jsonl -m " + f32, text, env).out, file.out);
  std::string bytes = r1::read_file(f32);
  bytes.resize(bytes.size() / 2);
  const std::string cut = temp("cut.gguf");
  { std::ofstream(cut, std::ios::binary) << bytes; }
  auto bad = run_r1("score --jsonl -m " + cut, text, env);
  EXPECT_EQ(bad.code, 2);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_NE(bad.err.find("cut.gguf"), std::string::npos) << bad.err;
  for (const auto& p : {f32, q8, llama, cut}) std::remove(p.c_str());
  fs::remove_all(dir);
  fs::remove_all(cache);
}

// Llama's mlp_bias: the gate/up/down biases written as llama.cpp names them (blk.N.ffn_*.bias,
// as its loader reads them), read back from the file with the same log-probabilities as the
// folder, and back into a folder tensor for tensor.
TEST(GgufInput, LlamaMlpBiasesRoundTrip) {
  const std::string cache = temp("cache3");
  const std::string env = "R1_CACHE_DIR=" + cache;
  const std::string dir = llama_folder("llama-mlpbias", "llama-mlpbias-f32");
  const std::string gguf = temp("mlpbias.gguf"), back = temp("mlpbias-back");
  fs::remove_all(back);
  ASSERT_EQ(run_r1("convert -m " + dir + " --type f32 --out " + gguf).code, 0);
  r1::io::GgufFile g = r1::io::GgufFile::open(gguf);
  auto store = r1::io::WeightStore::open_dir(dir);
  for (auto [hf, gg] : {std::pair<const char*, const char*>{"model.layers.0.mlp.gate_proj.bias",
                                                            "blk.0.ffn_gate.bias"},
                        {"model.layers.1.mlp.up_proj.bias", "blk.1.ffn_up.bias"},
                        {"model.layers.1.mlp.down_proj.bias", "blk.1.ffn_down.bias"}}) {
    ASSERT_NE(g.tensor_info(gg), nullptr) << gg;
    EXPECT_EQ(values(store.get(hf)), values(g.tensor(gg))) << gg;
  }
  const std::string text = R"j({"text": "hello world 123 the quick brown fox"})j"
                           "\n";
  auto a = run_r1("score --jsonl -m " + dir, text),
       b = run_r1("score --jsonl -m " + gguf, text, env);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(json::parse(a.out), json::parse(b.out));
  auto r = run_r1("convert -m " + gguf + " --type f32 --out " + back, "", env);
  ASSERT_EQ(r.code, 0) << r.err;
  auto c = r1::io::WeightStore::open_dir(back);
  EXPECT_EQ(store.names(), c.names());
  for (const auto& name : store.names())
    EXPECT_EQ(values(store.get(name)), values(c.get(name))) << name;
  EXPECT_EQ(json::parse(r1::read_file(back + "/config.json"))["mlp_bias"], true);
  std::remove(gguf.c_str());
  for (const auto& d : {dir, back, cache}) fs::remove_all(d);
}

// Llama 3.1's rope scaling: written as llama.cpp's rope_freqs.weight divisors (inv_freq of the
// scaled rope times the divisor is the unscaled inv_freq), read back as the same rope_scaling,
// with the same log-probabilities as the folder (positions past original_max_position_embeddings
// included: the fixture's is 32).
TEST(GgufInput, Llama31RopeScalingRoundTrip) {
  const std::string cache = temp("cache4");
  const std::string env = "R1_CACHE_DIR=" + cache;
  const std::string dir = llama_folder("llama3rope", "llama-llama3rope-f32");
  // its vocabulary has 353 ids: a smaller tokenizer
  ASSERT_EQ(
      run_r1("train tokenizer --corpus " + source("README.md") + " --vocab-size 340 --out " + dir)
          .code,
      0);
  const std::string gguf = temp("llama3rope.gguf"), back = temp("llama3rope-back");
  fs::remove_all(back);
  auto r = run_r1("convert -m " + dir + " --type f32 --out " + gguf);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile g = r1::io::GgufFile::open(gguf);
  const auto cfg = r1::io::ModelConfig::load(dir);
  ASSERT_NE(g.tensor_info("rope_freqs.weight"), nullptr);
  const std::vector<float> f = values(g.tensor("rope_freqs.weight"));
  const std::vector<float> scaled =
      r1::models::rope_inv_freq(cfg.head_dim, cfg.rope_theta, cfg.rope_scaling);
  const std::vector<float> plain = r1::models::rope_inv_freq(cfg.head_dim, cfg.rope_theta, {});
  ASSERT_EQ(f.size(), plain.size());
  int blended = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    EXPECT_NEAR(scaled[i] * f[i], plain[i], 1e-6 * plain[i]) << i;
    blended += f[i] > 1.0f && f[i] < 8.0f;
  }
  EXPECT_EQ(blended, 2);  // wavelengths 13.5 and 29.2 (the fixture's README)
  std::string text = R"j({"text": ")j";
  for (int i = 0; i < 8; ++i) text += "hello world 123 the quick brown fox ";
  text += "\"}\n";
  auto a = run_r1("score --jsonl -m " + dir, text);
  auto b = run_r1("score --jsonl -m " + gguf, text, env);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_GT(json::parse(a.out)["logprobs"].size(), 64u);
  EXPECT_EQ(json::parse(a.out), json::parse(b.out));
  r = run_r1("convert -m " + gguf + " --type f32 --out " + back, "", env);
  ASSERT_EQ(r.code, 0) << r.err;
  const json rs = json::parse(r1::read_file(back + "/config.json"))["rope_scaling"];
  const json want = json::parse(r1::read_file(dir + "/config.json"))["rope_scaling"];
  for (const char* k : {"rope_type", "factor", "low_freq_factor", "high_freq_factor",
                        "original_max_position_embeddings"})
    EXPECT_EQ(rs[k], want[k]) << k;
  std::remove(gguf.c_str());
  for (const auto& d : {dir, back, cache}) fs::remove_all(d);
}

// GGUF -> Hugging Face folder: HF -> GGUF -> HF gives back the same tensors (the Llama q/k rows
// permuted and turned back), config fields and tokenization; a Q8_0 file becomes the dequantized
// blocks.
TEST(GgufInput, ConvertBackToAFolder) {
  const std::string cache = temp("cache2");
  const std::string env = "R1_CACHE_DIR=" + cache;
  const std::string llama = llama_folder("llama-back");
  const std::string arith = source("models/r1-arith");
  for (const std::string& dir : {arith, llama}) {
    const std::string gguf = temp("back.gguf"), back = temp("back");
    fs::remove_all(back);
    ASSERT_EQ(run_r1("convert -m " + dir + " --type f32 --out " + gguf).code, 0);
    auto r = run_r1("convert -m " + gguf + " --type bf16 --out " + back, "", env);
    ASSERT_EQ(r.code, 0) << r.err;
    auto a = r1::io::WeightStore::open_dir(dir), b = r1::io::WeightStore::open_dir(back);
    EXPECT_EQ(a.names(), b.names());
    for (const auto& name : a.names()) EXPECT_EQ(values(a.get(name)), values(b.get(name))) << name;
    json ca = json::parse(r1::read_file(dir + "/config.json"));
    json cb = json::parse(r1::read_file(back + "/config.json"));
    for (const char* k : {"architectures", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "num_key_value_heads", "vocab_size",
                          "max_position_embeddings", "tie_word_embeddings"})
      EXPECT_EQ(ca[k], cb[k]) << k;
    const std::string text = "What is 48 + 27? The quick brown fox, 1234 times.";
    EXPECT_EQ(run_r1("tokenize -m " + back, text).out, run_r1("tokenize -m " + dir, text).out);
    // an existing folder is not overwritten
    r = run_r1("convert -m " + gguf + " --out " + back, "", env);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
    fs::remove_all(back);
    std::remove(gguf.c_str());
  }
  const std::string q8 = temp("back-q8.gguf"), back = temp("back-q8");
  fs::remove_all(back);
  ASSERT_EQ(run_r1("quantize -m " + arith + " --type q8_0 --out " + q8).code, 0);
  ASSERT_EQ(run_r1("convert -m " + q8 + " --type f32 --out " + back, "", env).code, 0);
  r1::io::GgufFile g = r1::io::GgufFile::open(q8);
  auto b = r1::io::WeightStore::open_dir(back);
  EXPECT_EQ(values(b.get("model.layers.0.mlp.up_proj.weight")),
            values(g.tensor("blk.0.ffn_up.weight")));
  EXPECT_EQ(run_r1("convert -m " + q8 + " --type q8_0 --out " + temp("nope"), "", env).code, 2);
  fs::remove_all(back);
  fs::remove_all(llama);
  fs::remove_all(cache);
  std::remove(q8.c_str());
}

}  // namespace
