#include "models/model.h"

#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/mapped_file.h"
#include "core/quant.h"
#include "core/quant_pack.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "models/deepseek_v3.h"
#include "models/dense.h"
#include "ops/ops.h"

namespace r1::models {

std::unique_ptr<Model> load_model(const std::string& dir, const LoadOptions& opt) {
  io::ModelConfig cfg = io::ModelConfig::load(dir);
  io::WeightStore store = io::WeightStore::open_dir(dir, opt.load);
  std::unique_ptr<Model> m;
  if (cfg.arch == io::Arch::DeepseekV3) {
    m = std::make_unique<DeepseekV3Model>(cfg, std::move(store), opt);
  } else {
    m = std::make_unique<DenseModel>(cfg, std::move(store), opt);
  }
  if (opt.quantize != io::QuantMix::F32) {
    if (opt.trainable) fail_usage("quantized weights cannot be trained (train in f32/bf16)");
    quantize_weights(*m, opt.quantize);
  }
  if (opt.trainable) make_trainable(*m);
  if (opt.pack && !opt.trainable && kernels::kernels().isa != kernels::Isa::Scalar)
    pack_weights(*m);
  return m;
}

Tensor Model::project(const Tensor& x, const ops::Weight& w, const Tensor* bias) const {
  Tensor y = ops::linear(x, w, bias);
  const LoraPair* p = lora_ ? lora_->find(w.w) : nullptr;
  if (!p) return y;
  return ops::add_scaled(y, ops::linear(ops::linear(x, p->a), p->b), p->scale);
}

Tensor Model::swiglu(const Tensor& x, const ops::Weight& gate, const ops::Weight& up,
                     const ops::Weight& down, const Tensor* gb, const Tensor* ub,
                     const Tensor* db) const {
  Tensor g = project(x, gate, gb);
  Tensor u = project(x, up, ub);
  return project(ops::silu_mul_reuse(std::move(g), u), down, db);
}

void Model::begin_batch(const Batch& b, KvCache* cache) {
  R1_ASSERT(b.pos.size() == b.tokens.size() && b.seq.size() == b.tokens.size());
  if (cache)
    for (size_t t = 0; t < b.tokens.size(); ++t) cache->reserve(b.seq[t], b.pos[t] + 1);
}

void Model::end_batch(const Batch& b, KvCache* cache) {
  if (cache)
    for (size_t t = 0; t < b.tokens.size(); ++t)
      if (b.pos[t] + 1 > cache->length(b.seq[t])) cache->set_length(b.seq[t], b.pos[t] + 1);
}

void Model::write_cache(KvCache& cache, int layer, const Batch& b, const Tensor& src, int64_t col,
                        bool values) {
  const int64_t n = src.dim(1);
  for (size_t t = 0; t < b.tokens.size(); ++t) {
    const float* row = src.ptr<float>() + static_cast<int64_t>(t) * n;
    if (values) {
      cache.write_v(layer, b.seq[t], b.pos[t], row, col, n);
    } else {
      cache.write_k(layer, b.seq[t], b.pos[t], row, col, n);
    }
  }
}

std::vector<std::pair<std::string, Tensor>> Model::parameters(bool with_frozen) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const ParamSlot& s : parameter_slots())
    if (!s.name.empty() && s.t->defined() && (with_frozen || !s.frozen))
      out.emplace_back(s.name, *s.t);
  return out;
}

namespace {

// Replaces each weight w by convert(slot) when that gives a tensor (an undefined one keeps w); a
// tensor shared by several slots (tied weights) is converted once and stays shared, and an fp8
// weight's block scales are dropped once it is something else. With `discard`, each replaced
// weight's pages in the checkpoint's files are given back as soon as it is converted
// (discard_file_pages; its address stays a key of `done` only), so that the originals and their
// converted copies are not all in memory at once; the model never reads its store after loading.
void convert_weights(Model& m, const std::function<Tensor(const ParamSlot&)>& convert,
                     bool discard = false) {
  std::map<const void*, Tensor> done;  // by source data
  for (const ParamSlot& s : m.parameter_slots()) {
    if (!s.t->defined()) continue;
    auto it = done.find(s.t->data);
    const bool first = it == done.end();
    Tensor t = first ? convert(s) : it->second;
    if (!t.defined()) continue;
    if (first && discard && t.data != s.t->data) discard_file_pages(s.t->data, s.t->nbytes());
    if (s.scale && s.scale->defined() && t.dtype != DType::F8_E4M3) {
      if (first && discard) discard_file_pages(s.scale->data, s.scale->nbytes());
      *s.scale = Tensor();
    }
    done[s.t->data] = t;
    *s.t = t;
  }
}

}  // namespace

void make_trainable(Model& m) {
  convert_weights(
      m,
      [](const ParamSlot& s) {
        const Tensor& w = *s.t;
        if (w.dtype == DType::F8_E4M3)
          fail_input("tensor ", s.name,
                     " is FP8 block-quantized; training needs f32/bf16/f16 weights");
        Tensor f = Tensor::zeros(DType::F32, w.shape);
        kernels::kernels().to_f32(w.data, w.dtype, f.ptr<float>(), f.numel());
        return f;
      },
      /*discard=*/true);
}

void pack_weights(Model& m) {
  convert_weights(
      m,
      [](const ParamSlot& s) {
        const Tensor& t = *s.t;
        Tensor p;
        if (t.ndim() != 2 || !t.is_contiguous() || !can_pack(t.dtype, t.dim(0), t.dim(1))) return p;
        const int64_t cols = t.dim(1);
        const DType packed = packed_type(t.dtype);
        // Q8_0, Q4_0, Q5_0 and Q4_K pack into as many bytes: in place where the file was read
        // into memory (no second copy to allocate, fault in and zero), group by group through a
        // copy, unless the file's offset is less aligned than the kernels read the layout (GGUF
        // aligns tensors to 32 bytes; Q4_K_R8 is read 64 at a time).
        const bool in_place = dtype_bytes(packed, cols) == dtype_bytes(t.dtype, cols) &&
                              reinterpret_cast<uintptr_t>(t.data) % packed_alignment(packed) == 0 &&
                              file_bytes_writable(t.data, t.nbytes());
        p = in_place ? Tensor::view_of(packed, t.shape, t.data, t.owner)
                     : Tensor::empty(packed, t.shape);
        const size_t group_bytes = kPackRows * dtype_bytes(t.dtype, cols);
        thread_pool().parallel_range(t.dim(0) / kPackRows, 1, [&](int64_t g0, int64_t g1) {
          std::vector<uint8_t> copy(in_place ? group_bytes : 0);
          for (int64_t g = g0; g < g1; ++g) {
            const void* src = t.row(g * kPackRows);
            if (in_place) {
              std::memcpy(copy.data(), src, group_bytes);
              src = copy.data();
            }
            pack_rows8(t.dtype, src, p.row(g * kPackRows), cols);
          }
        });
        return p;
      },
      /*discard=*/true);
}

void quantize_weights(Model& m, io::QuantMix mix) {
  if (!io::is_quantized(mix) && mix != io::QuantMix::BF16 && mix != io::QuantMix::F16)
    fail_usage("r1 converts weights to bf16, f16, q8_0, q4_k_m or q4_0, not ",
               io::quant_mix_name(mix));
  const io::ModelConfig& cfg = m.config();
  convert_weights(
      m,
      [&](const ParamSlot& s) {
        const Tensor& t = *s.t;
        Tensor q;
        const bool fp8 = t.dtype == DType::F8_E4M3 && s.scale && s.scale->defined();
        if (t.ndim() != 2 ||
            (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16 && !fp8))
          return q;  // kept as it is
        // DeepSeek's router chooses experts from small logit differences: kept (llama.cpp keeps
        // its ffn_gate_inp in f32 too).
        if (s.role == io::Role::Router) return q;
        ops::Weight w;  // the stored rows, widened (fp8: times their block scales)
        w.w = t;
        if (fp8) {
          w.scale = *s.scale;
          w.block_n = cfg.ds.fp8_block_out;
          w.block_k = cfg.ds.fp8_block_in;
        }
        const DType type =
            io::quant_mix_type(mix, s.name, t.dim(1), cfg.n_layers, cfg.tie_word_embeddings);
        const int64_t cols = t.dim(1);
        const bool half = type == DType::BF16 || type == DType::F16;  // rounded to nearest even
        if (type == t.dtype || (!half && !is_block_type(type))) return q;
        q = Tensor::empty(type, t.shape);
        thread_pool().parallel_range(t.dim(0), 16, [&](int64_t r0, int64_t r1) {
          std::vector<float> row(static_cast<size_t>(cols));
          for (int64_t r = r0; r < r1; ++r) {
            ops::widen_rows(w, r, 1, row.data());
            if (!half) {
              quantize_row(type, row.data(), q.row(r), cols);
              continue;
            }
            uint16_t* dst = static_cast<uint16_t*>(q.row(r));
            for (int64_t i = 0; i < cols; ++i)
              dst[i] = type == DType::BF16 ? f32_to_bf16(row[i]) : f32_to_f16(row[i]);
          }
        });
        return q;
      },
      /*discard=*/true);
}

}  // namespace r1::models
