// Weights quantized to Q8_0 when loading: which tensors are, what it costs in accuracy (logits
// against the model's own f32/bf16 weights, on a random fixture and on the bundled model, whose
// weights have structure), and the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "../common/temp_path.h"
#include "core/error.h"
#include "core/mapped_file.h"
#include "core/quant_pack.h"
#include "io/gguf_export.h"
#include "io/gguf_import.h"
#include "kernels/kernels.h"
#include "models/model.h"
#include "ops/ops.h"
#include "train/init.h"

namespace r1::models {
namespace {

// Whether load_model packs (it does not with the scalar kernels, R1_ISA=scalar).
bool kernels_packed() {
  return kernels::kernels().isa != kernels::Isa::Scalar;
}

const std::string kFixtures = std::string(R1_SOURCE_DIR) + "/tests/fixtures/models/";

// Logits at every position of one sequence.
Tensor all_logits(Model& m, const std::vector<int32_t>& ids) {
  KvCache cache = m.new_cache();
  const int seq = cache.add_sequence();
  Batch b;
  for (size_t t = 0; t < ids.size(); ++t) b.add(ids[t], static_cast<int32_t>(t), seq, true);
  return m.forward(b, cache);
}

struct Quality {
  double kl = 0;    // mean KL(exact || quantized) per position
  double top1 = 0;  // fraction of positions with the same argmax
  double rel = 0;   // RMS logit error / RMS logit
};

Quality compare(Model& exact, Model& quant, const std::vector<int32_t>& ids) {
  const Tensor a = all_logits(exact, ids), b = all_logits(quant, ids);
  const int64_t T = a.dim(0), V = a.dim(1);
  Quality q;
  double err = 0, mag = 0;
  for (int64_t t = 0; t < T; ++t) {
    const float *x = a.ptr<float>() + t * V, *y = b.ptr<float>() + t * V;
    double mx = -1e30, my = -1e30;
    int64_t ax = 0, ay = 0;
    for (int64_t v = 0; v < V; ++v) {
      if (x[v] > x[ax]) ax = v;
      if (y[v] > y[ay]) ay = v;
      mx = std::max<double>(mx, x[v]);
      my = std::max<double>(my, y[v]);
      err += (x[v] - y[v]) * static_cast<double>(x[v] - y[v]);
      mag += x[v] * static_cast<double>(x[v]);
    }
    double zx = 0, zy = 0;
    for (int64_t v = 0; v < V; ++v) {
      zx += std::exp(x[v] - mx);
      zy += std::exp(y[v] - my);
    }
    for (int64_t v = 0; v < V; ++v) {
      const double lp = x[v] - mx - std::log(zx), lq = y[v] - my - std::log(zy);
      q.kl += std::exp(lp) * (lp - lq);
    }
    q.top1 += ax == ay;
  }
  q.kl /= static_cast<double>(T);
  q.top1 /= static_cast<double>(T);
  q.rel = std::sqrt(err / mag);
  return q;
}

TEST(Quantize, Q8_0WhereRowsAreWholeBlocks) {
  for (const char* f : {"qwen2-f32", "qwen2-tied-bf16", "llama-llama3rope-f32"}) {
    auto exact = load_model(kFixtures + f);
    LoadOptions o;
    o.quantize = io::QuantMix::Q8_0;
    auto quant = load_model(kFixtures + f, o);
    int quantized = 0;
    for (const ParamSlot& s : quant->parameter_slots()) {
      if (!s.t->defined()) continue;
      // (in the packed layout where the rows make whole groups and units)
      const bool whole = s.t->ndim() == 2 && s.t->dim(1) % 32 == 0;
      const DType t = unpacked_type(s.t->dtype);
      EXPECT_EQ(t == DType::Q8_0, whole) << f << " " << s.name;
      EXPECT_EQ(s.t->dtype == DType::Q8_0_R8, whole && can_pack(t, s.t->dim(0), s.t->dim(1)))
          << f << " " << s.name;
      quantized += t == DType::Q8_0;
    }
    EXPECT_GT(quantized, 4) << f;
    std::vector<int32_t> ids;
    for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 11) % 300);
    // Measured: relative error 2.7-3.2%, KL 0.0019-0.0029, on these tiny random models (every
    // activation is quantized too, and nothing in random weights is redundant). A wrong scale or
    // block would be off by far more.
    const Quality q = compare(*exact, *quant, ids);
    EXPECT_LT(q.rel, 0.05) << f;
    EXPECT_LT(q.kl, 0.006) << f;
    EXPECT_GE(q.top1, 0.9) << f;
  }
}

// The bundled model (trained: peaked distributions) over a worked problem and its answer.
TEST(Quantize, Q8_0KeepsTheBundledModelsPredictions) {
  const std::string dir = std::string(R1_SOURCE_DIR) + "/models/r1-arith";
  auto exact = load_model(dir);
  LoadOptions o;
  o.quantize = io::QuantMix::Q8_0;
  auto quant = load_model(dir, o);
  std::vector<int32_t> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(3 + (i * 7) % 40);
  const Quality q = compare(*exact, *quant, ids);
  std::printf("r1-arith Q8_0 vs f32 over %zu positions: KL %.2e, top-1 %.3f, logit error %.4f\n",
              ids.size(), q.kl, q.top1, q.rel);
  EXPECT_LT(q.kl, 5e-3);
  EXPECT_GE(q.top1, 0.95);
}

// The 4-bit mixes on the bundled model: the types io::quant_mix_type gives, and the accuracy.
TEST(Quantize, FourBitMixesOnTheBundledModel) {
  const std::string dir = std::string(R1_SOURCE_DIR) + "/models/r1-arith";
  auto exact = load_model(dir);
  std::vector<int32_t> ids;
  for (int i = 0; i < 200; ++i) ids.push_back(3 + (i * 7) % 40);
  for (io::QuantMix mix : {io::QuantMix::Q4_K_M, io::QuantMix::Q4_0}) {
    LoadOptions o;
    o.quantize = mix;
    auto quant = load_model(dir, o);
    const io::ModelConfig& c = quant->config();
    for (const ParamSlot& s : quant->parameter_slots()) {
      if (s.name.empty() || !s.t->defined()) continue;
      const DType want = s.t->ndim() == 2 ? io::quant_mix_type(mix, s.name, s.t->dim(1), c.n_layers,
                                                               c.tie_word_embeddings)
                                          : DType::F32;
      EXPECT_EQ(unpacked_type(s.t->dtype), want) << s.name;
    }
    const Quality q = compare(*exact, *quant, ids);
    std::printf("r1-arith %s vs f32 over %zu positions: KL %.2e, top-1 %.3f, logit error %.4f\n",
                io::quant_mix_name(mix), ids.size(), q.kl, q.top1, q.rel);
    // Measured: Q4_K_M (mostly Q5_0 here: rows of 192) KL 0.012, top-1 0.955; Q4_0 KL 0.029,
    // top-1 0.890. A wrong block layout gives noise (top-1 near chance).
    EXPECT_LT(q.kl, 0.06) << io::quant_mix_name(mix);
    EXPECT_GE(q.top1, 0.85) << io::quant_mix_name(mix);
  }
}

// A packed model against the same weights unpacked: each matrix's product on the same input
// (only the order of float sums differs), the embedding lookups exactly, and the logits closely.
// Whole forward passes are not compared that tightly, since a last-bit difference anywhere can
// move an activation across a rounding boundary of its int8 quantization (measured on the
// unpacked model alone: its cached and uncached passes differ by up to 1e-2 in a logit).
void expect_packed_matches(Model& plain, Model& packed, const std::string& what) {
  const std::vector<ParamSlot> a = plain.parameter_slots(), b = packed.parameter_slots();
  ASSERT_EQ(a.size(), b.size());
  int n_packed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!b[i].t->defined()) continue;
    n_packed += is_packed_type(b[i].t->dtype);
    ASSERT_EQ(unpacked_type(b[i].t->dtype), a[i].t->dtype) << a[i].name;
    if (a[i].t->ndim() != 2) continue;
    const int64_t rows = a[i].t->dim(0), cols = a[i].t->dim(1);
    if (kernels_packed()) {
      EXPECT_FALSE(can_pack(b[i].t->dtype, rows, cols)) << what << ": " << a[i].name;
    }
    Tensor x = Tensor::empty(DType::F32, {5, cols});
    for (int64_t k = 0; k < x.numel(); ++k) x.ptr<float>()[k] = std::sin(0.37f * k);
    const Tensor ya = ops::linear(x, *a[i].t), yb = ops::linear(x, *b[i].t);
    for (int64_t k = 0; k < ya.numel(); ++k)
      ASSERT_NEAR(ya.ptr<float>()[k], yb.ptr<float>()[k], 1e-5) << what << ": " << a[i].name;
    if (a[i].name == "model.embed_tokens.weight") {
      std::vector<int32_t> all(static_cast<size_t>(rows));
      for (int64_t v = 0; v < rows; ++v) all[v] = static_cast<int32_t>(v);
      const Tensor ea = ops::embedding(*a[i].t, all), eb = ops::embedding(*b[i].t, all);
      ASSERT_EQ(0, std::memcmp(ea.data, eb.data, ea.nbytes())) << "embedding lookups";
    }
  }
  if (kernels_packed()) {
    EXPECT_GT(n_packed, 8) << what;
  }
  std::vector<int32_t> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(3 + (i * 11) % 40);
  const Quality q = compare(plain, packed, ids);
  EXPECT_LT(q.rel, 0.02) << what;
  EXPECT_LT(q.kl, 1e-4) << what;
}

// A random model (2 layers, intermediate 512) written to dir.
void random_model(const std::string& dir, int64_t hidden, bool tied) {
  train::InitOptions io;
  io.tokenizer_dir = std::string(R1_SOURCE_DIR) + "/models/r1-arith";
  io.hidden = hidden;
  io.intermediate = 512;
  io.layers = 2;
  io.heads = 4;
  io.kv_heads = 2;
  io.tie_embeddings = tied;
  io.seed = 5;
  std::filesystem::remove_all(dir);
  train::init_model(io, dir);
}

// Matrices repacked at load (core/quant_pack.h) compute what the file layout does, on random
// models: hidden 256 (Q4_K_M gives Q4_K and Q6_K), with tied embeddings (the embedding lookup
// reads the packed Q6_K table) and without; hidden 192 (Q5_0, as Qwen2.5-0.5B's 896); Q4_0; Q8_0.
TEST(Quantize, PackedLayoutsMatchTheFileLayout) {
  const struct {
    int64_t hidden;
    bool tied;
    io::QuantMix mix;
  } cases[] = {{256, true, io::QuantMix::Q4_K_M},
               {256, false, io::QuantMix::Q4_K_M},
               {192, true, io::QuantMix::Q4_K_M},
               {256, false, io::QuantMix::Q4_0},
               {256, true, io::QuantMix::Q8_0}};
  for (const auto& cs : cases) {
    const std::string what =
        std::to_string(cs.hidden) + (cs.tied ? " tied " : " untied ") + io::quant_mix_name(cs.mix);
    const std::string dir =
        r1::testing::fresh_temp_dir("r1_packed_" + std::to_string(cs.hidden) + "_");
    random_model(dir, cs.hidden, cs.tied);
    LoadOptions o;
    o.quantize = cs.mix;
    o.pack = false;
    auto plain = load_model(dir, o);
    o.pack = true;
    auto packed = load_model(dir, o);
    expect_packed_matches(*plain, *packed, what);
  }
}

// GGUF files read into memory: the matrices whose packed layout takes as many bytes (Q8_0, Q4_0,
// Q4_K) are packed in place, in the file's memory, where the file aligns them as their kernels
// read them (packed_alignment: Q4_K_R8 wants 64), the others (Q6_K: the output layer of Q4_0 and
// Q4_K_M) copied out; a mapped file is never written. Either way the same products as unpacked,
// and every packed matrix aligned. Each file is written as r1 writes them (tensors at multiples
// of 64 bytes: every Q4_K in place) and twice at llama.cpp's default of 32, with names 32 bytes
// apart in length, so that its tensors lie 32 bytes further into a cache line in one of them:
// Q4_K goes in place in one, is copied out in the other.
TEST(Quantize, GgufRowsPackedInPlaceWhereTheFileWasRead) {
  const std::string dir = r1::testing::fresh_temp_dir("r1_packed_gguf_");
  random_model(dir, 256, true);
  int q4k_in_place = 0, q4k_copied = 0;  // Q4_K_M files at alignment 32 read into memory
  const std::pair<uint32_t, std::string> layouts[] = {
      {64, "m"}, {32, "m"}, {32, std::string(33, 'm')}};
  for (io::QuantMix mix : {io::QuantMix::Q8_0, io::QuantMix::Q4_0, io::QuantMix::Q4_K_M})
    for (const auto& [alignment, name] : layouts) {
      const std::string gguf = dir + "/model-" + io::quant_mix_name(mix) + "-" +
                               std::to_string(alignment) + "-" + std::to_string(name.size()) +
                               ".gguf";
      io::GgufExportOptions eo;
      eo.mix = mix;
      eo.name = name;
      eo.alignment = alignment;
      io::export_gguf(dir, gguf, eo);
      setenv("R1_CACHE_DIR", (dir + "/cache").c_str(), 1);       // not the user's cache
      const std::string folder = io::prepare_gguf_folder(gguf);  // what -m FILE.gguf loads
      unsetenv("R1_CACHE_DIR");
      LoadOptions o;
      o.pack = false;
      auto plain = load_model(folder, o);
      for (LoadMode mode : {LoadMode::Read, LoadMode::Map}) {
        o.pack = true;
        o.load = mode;
        auto packed = load_model(folder, o);
        const std::string what =
            std::string(io::quant_mix_name(mix)) + (mode == LoadMode::Read ? " read" : " mapped") +
            " at alignment " + std::to_string(alignment) + ", name " + std::to_string(name.size());
        expect_packed_matches(*plain, *packed, what);
        int in_place = 0, copied = 0, q4k = 0;
        for (const ParamSlot& s : packed->parameter_slots()) {
          if (!s.t->defined() || !is_packed_type(s.t->dtype)) continue;
          const bool in_file = file_bytes_writable(s.t->data, s.t->nbytes());
          in_place += in_file;
          copied += !in_file;
          q4k += s.t->dtype == DType::Q4_K_R8;
          if (s.t->dtype == DType::Q4_K_R8 && mode == LoadMode::Read) {
            if (alignment == 64) {
              EXPECT_TRUE(in_file) << what << " " << s.name;
            } else {
              q4k_in_place += in_file;
              q4k_copied += !in_file;
            }
          }
          EXPECT_EQ(reinterpret_cast<uintptr_t>(s.t->data) % packed_alignment(s.t->dtype), 0u)
              << what << " " << s.name;
          if (in_file) {
            EXPECT_NE(unpacked_type(s.t->dtype), DType::Q6_K) << what << " " << s.name;
          }
        }
        if (!kernels_packed()) continue;
        EXPECT_EQ(q4k > 8, mix == io::QuantMix::Q4_K_M) << what;
        if (mix != io::QuantMix::Q4_K_M) {
          EXPECT_EQ(in_place > 8, mode == LoadMode::Read) << what;
        }
        EXPECT_EQ(copied > 0, mode == LoadMode::Map || mix != io::QuantMix::Q8_0) << what;
      }
    }
  if (kernels_packed()) {
    EXPECT_GT(q4k_in_place, 8);
    EXPECT_GT(q4k_copied, 8);
  }
}

// DeepSeek-V3: bf16 and fp8 (block-scaled) checkpoints quantized in memory, MTP layer included.
// Every matrix whose rows are whole blocks is quantized but the router, and holds the stored
// values (fp8: times their block scales) within the format's rounding; an fp8 weight's scales go
// with it. These random MoE fixtures amplify any perturbation (Q8_0 on the embedding alone moves
// the bf16 fixture's logits by 8% RMS: routing flips), so the logits are only checked loosely.
TEST(Quantize, DeepSeekV3ExpertsAndAttention) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 40; ++i) ids.push_back((i * 37 + 11) % 180);
  for (const char* f : {"dsv3-bf16", "dsv3-fp8"}) {
    for (io::QuantMix mix : {io::QuantMix::Q8_0, io::QuantMix::Q4_0}) {
      const bool eight = mix == io::QuantMix::Q8_0;
      LoadOptions plain;
      plain.pack = false;
      auto exact = load_model(kFixtures + f, plain);
      LoadOptions o = plain;
      o.quantize = mix;
      auto quant = load_model(kFixtures + f, o);
      const std::vector<ParamSlot> es = exact->parameter_slots(), qs = quant->parameter_slots();
      ASSERT_EQ(es.size(), qs.size());
      int quantized = 0, experts = 0;
      for (size_t i = 0; i < qs.size(); ++i) {
        const ParamSlot &e = es[i], &s = qs[i];
        ASSERT_EQ(e.name, s.name);
        if (!s.t->defined() || s.name.empty()) continue;
        const bool router = s.name.find("mlp.gate.weight") != std::string::npos;
        const bool whole = s.t->ndim() == 2 && s.t->dim(1) % 32 == 0;
        if (router || !whole) {
          EXPECT_FALSE(is_block_type(s.t->dtype)) << f << " " << s.name;
          continue;
        }
        ASSERT_TRUE(is_block_type(s.t->dtype)) << f << " " << s.name;
        EXPECT_FALSE(s.scale && s.scale->defined()) << f << " " << s.name << " kept its scales";
        ++quantized;
        experts += s.name.find("mlp.experts.") != std::string::npos;
        ops::Weight stored, q;
        stored.w = *e.t;
        if (e.scale && e.scale->defined()) {
          stored.scale = *e.scale;
          stored.block_n = stored.block_k = 128;  // the fixtures' weight_block_size
        }
        q.w = *s.t;
        const int64_t n = e.t->numel();
        std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
        ops::widen_rows(stored, 0, e.t->dim(0), a.data());
        ops::widen_rows(q, 0, s.t->dim(0), b.data());
        double err = 0, mag = 0;
        for (int64_t j = 0; j < n; ++j) {
          err += (a[j] - b[j]) * static_cast<double>(a[j] - b[j]);
          mag += a[j] * static_cast<double>(a[j]);
        }
        // Q8_0 rounds to 1/127 of each block's largest value, Q4_0 to 1/8 (relative RMS about
        // 0.8% and 12% on these weights).
        EXPECT_LT(std::sqrt(err / mag), eight ? 0.012 : 0.15) << f << " " << s.name;
      }
      EXPECT_GT(quantized, 6) << f;
      if (std::string(f) == "dsv3-bf16") {
        EXPECT_GT(experts, 8);  // the fp8 fixture's experts have rows of 144 and 16
        EXPECT_LT(quant->weight_bytes_per_token(), exact->weight_bytes_per_token());
      }
      // Measured: Q8_0 KL 4e-2 (bf16 fixture) and 2e-2 (fp8), top-1 0.93 / 0.98.
      const Quality q = compare(*exact, *quant, ids);
      if (eight) {
        EXPECT_LT(q.kl, 0.1) << f;
        EXPECT_GE(q.top1, 0.85) << f;
      }
      std::printf("%s %s vs stored over %zu positions: KL %.2e, top-1 %.3f, logit error %.4f\n", f,
                  io::quant_mix_name(mix), ids.size(), q.kl, q.top1, q.rel);
      // and packed for the SIMD kernels: the same products up to summation order. Compared
      // per position, by the median: rounding differences can flip a near-tie of the router's
      // top-k at some position (seen at position 36 of 40, 3e-2 from there on, 1e-7 before), but
      // a wrong packed product would show at every position.
      if (kernels_packed()) {
        o.pack = true;
        auto packed = load_model(kFixtures + f, o);
        const Tensor a = all_logits(*quant, ids), b = all_logits(*packed, ids);
        const int64_t V = a.dim(1);
        std::vector<double> rel;
        for (int64_t t = 0; t < a.dim(0); ++t) {
          double e = 0, m = 0;
          for (int64_t v = 0; v < V; ++v) {
            const double x = a.ptr<float>()[t * V + v], d = x - b.ptr<float>()[t * V + v];
            e += d * d;
            m += x * x;
          }
          rel.push_back(std::sqrt(e / m));
        }
        std::sort(rel.begin(), rel.end());
        EXPECT_LT(rel[rel.size() / 2], 1e-5) << f;
      }
    }
  }
}

TEST(Quantize, Refusals) {
  LoadOptions o;
  o.quantize = io::QuantMix::Q8_0;
  o.trainable = true;
  EXPECT_THROW(load_model(kFixtures + "qwen2-f32", o), Error);
}

}  // namespace
}  // namespace r1::models
