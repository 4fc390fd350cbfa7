// DeepSeek-V3 as GGUF (llama.cpp's deepseek2): the layout llama.cpp's converter writes, checked
// tensor by tensor against the folder (experts stacked, kv_b split per head with k transposed,
// the router F32, the MTP layer left out, the hyper-parameters under llama.cpp's keys), and the
// file read back as the same model. (That llama.cpp runs these files as r1 runs the folder is
// bench/gguf_vs_llamacpp.sh's check.)
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
#include "core/quant.h"
#include "gguf_expect.h"
#include "io/gguf.h"
#include "io/safetensors.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using r1::DType;
using r1::testing::expect_tensor_types;
using r1::testing::run_r1;
using r1::testing::source;

std::string temp(const std::string& name) {
  return (fs::temp_directory_path() / ("r1_ggufds_" + std::to_string(getpid()) + "_" + name))
      .string();
}

// A DeepSeek-V3 fixture folder (4 layers, the first 2 dense; 8 experts in 4 groups, 3 used;
// MTP layer; yarn rope) with a tokenizer r1 trains on README.md.
std::string ds_folder(const std::string& name, const std::string& fixture) {
  const std::string dir = temp(name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(source("tests/fixtures/models/" + fixture)))
    if (e.path().filename().string().find("golden") == std::string::npos)
      fs::copy(e.path(), dir + "/" + e.path().filename().string());
  auto r =
      run_r1("train tokenizer --corpus " + source("README.md") + " --vocab-size 280 --out " + dir);
  EXPECT_EQ(r.code, 0) << r.err;
  return dir;
}

// The fp8 fixture's vocabulary (192 ids) is smaller than a byte-level one: the trained tokenizer
// cut to its first `n` ids, without merges (enough for GGUF metadata; the test scores token ids).
void cut_tokenizer(const std::string& dir, int64_t n) {
  json tok = json::parse(r1::read_file(dir + "/tokenizer.json"));
  json vocab = json::object();
  for (auto it = tok["model"]["vocab"].begin(); it != tok["model"]["vocab"].end(); ++it)
    if (it.value().get<int64_t>() < n) vocab[it.key()] = it.value();
  tok["model"]["vocab"] = vocab;
  tok["model"]["merges"] = json::array();
  json added = json::array();
  for (const json& a : tok["added_tokens"])
    if (a["id"].get<int64_t>() < n) added.push_back(a);
  tok["added_tokens"] = added;
  std::ofstream(dir + "/tokenizer.json") << tok.dump();
  std::remove((dir + "/tokenizer_config.json").c_str());
}

std::vector<float> values(const r1::Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  const int64_t cols = t.shape.back();
  for (int64_t r = 0; r < t.numel() / cols; ++r) {
    float* out = v.data() + r * cols;
    if (r1::is_block_type(t.dtype)) {
      r1::dequantize_row(t.dtype,
                         static_cast<const char*>(t.data) + r1::dtype_bytes(t.dtype, r * cols), out,
                         cols);
      continue;
    }
    for (int64_t i = 0; i < cols; ++i) {
      const size_t k = static_cast<size_t>(r * cols + i);
      out[i] = t.dtype == DType::F32    ? t.ptr<float>()[k]
               : t.dtype == DType::BF16 ? r1::bf16_to_f32(t.ptr<uint16_t>()[k])
                                        : r1::f16_to_f32(t.ptr<uint16_t>()[k]);
    }
  }
  return v;
}

std::vector<float> logprobs(const std::string& out) {
  std::vector<float> v;
  const json j = json::parse(out);
  for (const json& x : j["logprobs"]) v.push_back(x.get<float>());
  return v;
}

const char* kText = R"j({"text": "hello world 123 the quick brown fox jumps over the lazy dog"})j"
                    "\n";

TEST(GgufDeepSeek, LlamaCppLayoutAndTheSameModelBack) {
  const std::string cache = temp("cache"), env = "R1_CACHE_DIR=" + temp("cache");
  const std::string dir = ds_folder("bf16", "dsv3-bf16");
  const std::string gguf = temp("ds.gguf"), back = temp("back");
  fs::remove_all(back);
  auto r = run_r1("convert -m " + dir + " --type f32 --out " + gguf);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile g = r1::io::GgufFile::open(gguf);
  auto store = r1::io::WeightStore::open_dir(dir);
  // hyper-parameters (config.json: 4 heads, q_lora 48, kv_lora 32, nope 16, rope 64, v 24)
  EXPECT_EQ(g.get_string("general.architecture"), "deepseek2");
  for (auto [k, v] :
       std::vector<std::pair<const char*, int64_t>>{{"block_count", 4},
                                                    {"attention.head_count", 4},
                                                    {"attention.head_count_kv", 1},
                                                    {"attention.q_lora_rank", 48},
                                                    {"attention.kv_lora_rank", 32},
                                                    {"attention.key_length", 32 + 64},
                                                    {"attention.value_length", 32},
                                                    {"attention.key_length_mla", 16 + 64},
                                                    {"attention.value_length_mla", 24},
                                                    {"rope.dimension_count", 64},
                                                    {"leading_dense_block_count", 2},
                                                    {"feed_forward_length", 96},
                                                    {"expert_feed_forward_length", 32},
                                                    {"expert_count", 8},
                                                    {"expert_used_count", 3},
                                                    {"expert_shared_count", 1},
                                                    {"expert_group_count", 4},
                                                    {"expert_group_used_count", 2},
                                                    {"expert_gating_func", 2},
                                                    {"rope.scaling.original_context_length", 16}})
    EXPECT_EQ(g.get_int(std::string("deepseek2.") + k), v) << k;
  EXPECT_FLOAT_EQ(g.get_float("deepseek2.expert_weights_scale"), 2.5f);
  EXPECT_FLOAT_EQ(g.get_float("deepseek2.rope.scaling.factor"), 8.0f);
  EXPECT_FLOAT_EQ(g.get_float("deepseek2.rope.scaling.yarn_log_multiplier"), 0.1f);
  EXPECT_EQ(g.get_string("deepseek2.rope.scaling.type"), "yarn");
  // experts: one [8, rows, cols] tensor per layer and matrix, expert e at index e
  for (int l : {2, 3})
    for (auto [hf, gg] : {std::pair<const char*, const char*>{"gate_proj", "ffn_gate_exps"},
                          {"up_proj", "ffn_up_exps"},
                          {"down_proj", "ffn_down_exps"}}) {
      const r1::Tensor all = g.tensor("blk." + std::to_string(l) + "." + gg + ".weight");
      ASSERT_EQ(all.ndim(), 3);
      ASSERT_EQ(all.dim(0), 8);
      const std::vector<float> a = values(all);
      const size_t n = a.size() / 8;
      for (int e = 0; e < 8; ++e) {
        const std::string name = "model.layers." + std::to_string(l) + ".mlp.experts." +
                                 std::to_string(e) + "." + hf + ".weight";
        EXPECT_EQ(values(store.get(name)),
                  std::vector<float>(a.begin() + e * n, a.begin() + (e + 1) * n))
            << name;
      }
    }
  // kv_b [4 heads x (16 nope + 24 v), 32]: attn_k_b [4, 32, 16] (transposed), attn_v_b [4, 24, 32]
  for (int l = 0; l < 4; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    ASSERT_EQ(g.tensor_info(p + "attn_kv_b.weight"), nullptr);
    const r1::Tensor kt = g.tensor(p + "attn_k_b.weight"), vt = g.tensor(p + "attn_v_b.weight");
    ASSERT_EQ(kt.shape, (std::vector<int64_t>{4, 32, 16}));
    ASSERT_EQ(vt.shape, (std::vector<int64_t>{4, 24, 32}));
    const std::vector<float> kv =
        values(store.get("model.layers." + std::to_string(l) + ".self_attn.kv_b_proj.weight"));
    const std::vector<float> k = values(kt), v = values(vt);
    for (int h = 0; h < 4; ++h)
      for (int j = 0; j < 32; ++j) {
        for (int i = 0; i < 16; ++i)
          ASSERT_EQ(k[(h * 32 + j) * 16 + i], kv[(h * 40 + i) * 32 + j]) << l << " " << h;
        for (int i = 0; i < 24; ++i)
          ASSERT_EQ(v[(h * 24 + i) * 32 + j], kv[(h * 40 + 16 + i) * 32 + j]) << l << " " << h;
      }
  }
  // the router and its bias F32, the dense layers' MLP and the shared expert as plain matrices
  EXPECT_EQ(g.tensor_info("blk.2.ffn_gate_inp.weight")->type, r1::io::GgmlType::F32);
  EXPECT_EQ(values(g.tensor("blk.3.exp_probs_b.bias")),
            values(store.get("model.layers.3.mlp.gate.e_score_correction_bias")));
  EXPECT_EQ(values(g.tensor("blk.1.ffn_down.weight")),
            values(store.get("model.layers.1.mlp.down_proj.weight")));
  EXPECT_EQ(values(g.tensor("blk.3.ffn_up_shexp.weight")),
            values(store.get("model.layers.3.mlp.shared_experts.up_proj.weight")));
  EXPECT_EQ(values(g.tensor("blk.0.attn_q_a.weight")),
            values(store.get("model.layers.0.self_attn.q_a_proj.weight")));
  // the MTP layer (layer 4 in the folder) is left out, as llama.cpp's converter does
  for (const auto& t : g.tensors()) EXPECT_NE(t.name.rfind("blk.4.", 0), 0u) << t.name;
  // dense layers 13 tensors, MoE layers 18, and token_embd, output_norm, output
  EXPECT_EQ(g.tensors().size(), 2u * 13 + 2 * 18 + 3);

  // read back: the same log-probabilities, and the folder's tensors (the MTP layer aside)
  auto a = run_r1("score --jsonl -m " + dir, kText);
  auto b = run_r1("score --jsonl -m " + gguf, kText, env);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_GT(logprobs(a.out).size(), 8u) << a.out;
  EXPECT_EQ(json::parse(a.out), json::parse(b.out));
  r = run_r1("convert -m " + gguf + " --type f32 --out " + back, "", env);
  ASSERT_EQ(r.code, 0) << r.err;
  auto c = r1::io::WeightStore::open_dir(back);
  size_t compared = 0;
  for (const auto& name : store.names()) {
    if (name.rfind("model.layers.4.", 0) == 0) continue;
    ASSERT_TRUE(c.has(name)) << name;
    EXPECT_EQ(values(store.get(name)), values(c.get(name))) << name;
    ++compared;
  }
  EXPECT_EQ(c.names().size(), compared);
  const json ca = json::parse(r1::read_file(dir + "/config.json"));
  const json cb = json::parse(r1::read_file(back + "/config.json"));
  for (const char* k : {"architectures",       "hidden_size",
                        "intermediate_size",   "moe_intermediate_size",
                        "num_hidden_layers",   "num_attention_heads",
                        "num_key_value_heads", "q_lora_rank",
                        "kv_lora_rank",        "qk_nope_head_dim",
                        "qk_rope_head_dim",    "v_head_dim",
                        "n_routed_experts",    "n_shared_experts",
                        "num_experts_per_tok", "n_group",
                        "topk_group",          "routed_scaling_factor",
                        "norm_topk_prob",      "first_k_dense_replace",
                        "scoring_func",        "topk_method",
                        "vocab_size",          "max_position_embeddings",
                        "tie_word_embeddings"})
    EXPECT_EQ(ca[k], cb[k]) << k;
  EXPECT_EQ(ca["rope_scaling"]["type"], cb["rope_scaling"]["type"]);
  for (const char* k : {"factor", "original_max_position_embeddings", "beta_fast", "beta_slow",
                        "mscale", "mscale_all_dim"})
    EXPECT_EQ(ca["rope_scaling"][k].get<double>(), cb["rope_scaling"][k].get<double>()) << k;
  std::remove(gguf.c_str());
  for (const auto& d : {dir, back, cache}) fs::remove_all(d);
}

// Quantized files: llama.cpp's types (Q4_K_M: Q4_K, Q6_K for the output and every ffn_down* in
// the use_more_bits layers; rows that are not whole blocks as llama.cpp's quantizer falls back),
// an fp8 checkpoint written times its block scales, and the files read back run.
TEST(GgufDeepSeek, QuantizedAndFp8Files) {
  const std::string cache = temp("cache2"), env = "R1_CACHE_DIR=" + temp("cache2");
  const std::string dir = ds_folder("q", "dsv3-bf16");
  const std::string q4 = temp("q4.gguf"), q8 = temp("q8.gguf");
  auto r = run_r1("quantize -m " + dir + " --type q4_k_m --out " + q4);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("as F16"), std::string::npos) << r.err;  // attn_k_b's rows of 16
  r1::io::GgufFile g = r1::io::GgufFile::open(q4);
  using r1::io::GgmlType;
  // rows of 64: Q4_K (256) falls back to Q5_0, Q6_K to Q8_0; rows of 16: F16 (llama.cpp's
  // rules); ffn_down in layers 2 and 3 of 4 (use_more_bits): Q6_K, rows of 32 -> Q8_0; layer 1's
  // Q4_K with rows of 96 -> Q5_0
  expect_tensor_types(g, {{"blk.2.ffn_gate_exps.weight", GgmlType::Q5_0},
                          {"blk.2.attn_q_a.weight", GgmlType::Q5_0},
                          {"output.weight", GgmlType::Q8_0},
                          {"blk.0.attn_k_b.weight", GgmlType::F16},
                          {"blk.2.ffn_gate_inp.weight", GgmlType::F32},
                          {"blk.2.ffn_down_exps.weight", GgmlType::Q8_0},
                          {"blk.3.ffn_down_shexp.weight", GgmlType::Q8_0},
                          {"blk.1.ffn_down.weight", GgmlType::Q5_0}});
  // `r1 bench --dry-run` counts every tensor of the header in its type and bytes (experts as
  // parts of one tensor, kv_b_proj as its two halves)
  double header_bytes = 0;
  for (const r1::io::GgufTensorInfo& t : g.tensors()) header_bytes += static_cast<double>(t.bytes);
  r = run_r1("bench --dry-run --no-bandwidth --json -m " + q4, "", env);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["weight_bytes"].get<double>(), header_bytes) << r.out;
  r = run_r1("quantize -m " + dir + " --type q8_0 --out " + q8);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile g8 = r1::io::GgufFile::open(q8);
  EXPECT_EQ(g8.tensor_info("blk.2.ffn_up_exps.weight")->type, GgmlType::Q8_0);
  EXPECT_EQ(g8.tensor_info("blk.0.attn_q_b.weight")->type, GgmlType::F16);  // rows of 48
  // expert 6's rows in Q8_0 blocks at index 6: each value within half a step (amax / 127) of
  // its block's largest magnitude, plus the f16 rounding of the step (2^-11 relative, times up
  // to 127 steps)
  const r1::Tensor up = g8.tensor("blk.2.ffn_up_exps.weight");
  const std::vector<float> want =
      values(r1::io::WeightStore::open_dir(dir).get("model.layers.2.mlp.experts.6.up_proj.weight"));
  std::vector<float> blocks(want.size());
  const size_t bytes = up.nbytes() / 8;
  r1::dequantize_q8_0(static_cast<const char*>(up.data) + 6 * bytes, blocks.data(),
                      static_cast<int64_t>(want.size()));
  for (size_t b = 0; b < want.size(); b += 32) {
    float amax = 0;
    for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(want[i]));
    for (size_t i = b; i < b + 32; ++i)
      EXPECT_NEAR(blocks[i], want[i], amax / 127 * 0.5f + amax / 1024 + 1e-7f) << i;
  }
  auto folder = run_r1("score --jsonl -m " + dir, kText);
  for (const auto& f : {q4, q8}) {
    auto s = run_r1("score --jsonl -m " + f, kText, env);
    ASSERT_EQ(s.code, 0) << s.err;
    const std::vector<float> a = logprobs(folder.out), b = logprobs(s.out);
    ASSERT_EQ(a.size(), b.size());
    for (float x : b) EXPECT_TRUE(std::isfinite(x) && x <= 0);
  }
  // fp8: the weights times their block scales, as the folder runs them
  const std::string fp8 = ds_folder("fp8", "dsv3-fp8"), f8 = temp("fp8.gguf");
  cut_tokenizer(fp8, 192);
  r = run_r1("convert -m " + fp8 + " --type f32 --out " + f8);
  ASSERT_EQ(r.code, 0) << r.err;
  r1::io::GgufFile gf = r1::io::GgufFile::open(f8);
  auto st = r1::io::WeightStore::open_dir(fp8);
  const r1::Tensor w = st.get("model.layers.0.self_attn.q_b_proj.weight");
  const r1::Tensor sc = st.get("model.layers.0.self_attn.q_b_proj.weight_scale_inv");
  ASSERT_EQ(w.dtype, DType::F8_E4M3);
  const std::vector<float> got = values(gf.tensor("blk.0.attn_q_b.weight"));
  const int64_t cols = w.dim(1), bn = 128, bk = 128;  // the fixture's weight_block_size
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int64_t row = i / cols, col = i % cols;
    ASSERT_EQ(got[i], r1::fp8_e4m3_to_f32(w.ptr<uint8_t>()[i]) *
                          sc.ptr<float>()[(row / bn) * sc.dim(1) + col / bk])
        << i;
  }
  const std::string ids = R"j({"ids": [3, 77, 150, 9, 42, 191, 0, 64, 128, 5, 17, 99]})j"
                          "\n";
  auto a = run_r1("score --jsonl -m " + fp8, ids), b = run_r1("score --jsonl -m " + f8, ids, env);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  const std::vector<float> la = logprobs(a.out), lb = logprobs(b.out);
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) EXPECT_NEAR(la[i], lb[i], 1e-4) << i;
  for (const auto& f : {q4, q8, f8}) std::remove(f.c_str());
  for (const auto& d : {dir, fp8, cache}) fs::remove_all(d);
}

// What a GGUF file cannot say is refused in one line: yarn with mscale != mscale_all_dim
// (llama.cpp's deepseek2 takes them equal), and nothing is written.
TEST(GgufDeepSeek, RefusesWhatTheFormatCannotSay) {
  const std::string dir = ds_folder("refuse", "dsv3-bf16"), out = temp("refused.gguf");
  json cfg = json::parse(r1::read_file(dir + "/config.json"));
  cfg["rope_scaling"]["mscale"] = 0.707;
  { std::ofstream(dir + "/config.json") << cfg.dump(2); }
  auto r = run_r1("convert -m " + dir + " --out " + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("mscale"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

}  // namespace
