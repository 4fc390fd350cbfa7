// The interface every architecture implements, and the loader that picks one from config.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"
#include "io/model_config.h"
#include "io/quant_mix.h"
#include "io/tensor_table.h"
#include "models/kv_cache.h"
#include "models/lora.h"
#include "ops/ops.h"

namespace r1::models {

// Tokens to run through the model in one forward pass. Token i belongs to sequence slot seq[i]
// of the cache at position pos[i]; a sequence's tokens in a batch must be consecutive positions
// starting at the cache's current length for that slot. Prefill is one sequence with many
// tokens; batched decode is many sequences with one token each; both may mix.
struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> pos;
  std::vector<int32_t> seq;
  std::vector<int64_t> logits_for;  // indices into tokens whose next-token logits are wanted

  void add(int32_t token, int32_t position, int32_t sequence, bool want_logits) {
    if (want_logits) logits_for.push_back(static_cast<int64_t>(tokens.size()));
    tokens.push_back(token);
    pos.push_back(position);
    seq.push_back(sequence);
  }
};

struct LoadOptions {
  LoadMode load = LoadMode::Auto;  // map the weight files or read them (core/mapped_file.h)
  int64_t max_context = 0;         // 0: the config's max_position_embeddings
  // Training: every weight becomes a writable f32 copy on the heap (the f32 master weights).
  bool trainable = false;
  // A quantized mix (io/quant_mix.h): every matrix weight (embeddings and lm_head included, as
  // in llama.cpp's files) is quantized when loaded; F32 (the default): stored dtypes are kept.
  io::QuantMix quantize = io::QuantMix::F32;
  // Q4_K / Q6_K / Q4_0 / Q5_0 matrices (a GGUF file's or `quantize`'s) repacked once into the
  // layouts of core/quant_pack.h that the SIMD GEMM reads fastest; false keeps the file's layout.
  bool pack = true;
};

// A weight of the model: its checkpoint name and the model's own slot for it. A slot with an
// empty name aliases another parameter (a tied lm_head) and is not saved separately.
struct ParamSlot {
  std::string name;
  Tensor* t;
  bool frozen = false;              // saved, but not trained (DeepSeek's e_score_correction_bias)
  Tensor* scale = nullptr;          // an fp8 weight's block scales (DeepSeek's weight_scale_inv)
  io::Role role = io::Role::Count;  // what the weight is (io/tensor_table.h)
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const io::ModelConfig& config() const = 0;
  virtual KvCache new_cache() const = 0;
  // Runs the batch, appending its keys/values to the cache; returns logits [logits_for, vocab].
  virtual Tensor forward(const Batch& batch, KvCache& cache) = 0;
  // Bytes of weights one decode step reads (all matrices and norms, one embedding row).
  virtual uint64_t weight_bytes_per_token() const = 0;
  virtual uint64_t total_weight_bytes() const = 0;

  // Training (ops record on the active tape). Every weight, by checkpoint name.
  virtual std::vector<ParamSlot> parameter_slots() = 0;
  // Hidden states [T, hidden] after the final norm for every token of the batch, with no cache:
  // each sequence (positions 0, 1, ... in order) attends within the batch.
  virtual Tensor final_hidden(const Batch& batch) = 0;
  // The matrix [vocab, hidden] that turns hidden states into logits.
  virtual Tensor output_embedding() const = 0;

  // The named parameters (aliases left out; frozen ones too unless asked), after
  // make_trainable: contiguous f32.
  std::vector<std::pair<std::string, Tensor>> parameters(bool with_frozen = false);

  // Low-rank adapters applied to the projections from now on (nullptr: none; lora.h).
  void set_lora(std::shared_ptr<LoraAdapters> adapters) { lora_ = std::move(adapters); }
  const std::shared_ptr<LoraAdapters>& lora() const { return lora_; }

 protected:
  // x . w^T (+ bias), plus w's adapter when one is set: every projection of both architectures
  // goes through here.
  Tensor project(const Tensor& x, const ops::Weight& w, const Tensor* bias = nullptr) const;
  // The SwiGLU MLP: down(silu(gate(x) + gb) * (up(x) + ub)) + db (biases optional).
  Tensor swiglu(const Tensor& x, const ops::Weight& gate, const ops::Weight& up,
                const ops::Weight& down, const Tensor* gb = nullptr, const Tensor* ub = nullptr,
                const Tensor* db = nullptr) const;
  // Before a batch's layers: reserves each sequence's cache rows up to its tokens' positions.
  static void begin_batch(const Batch& b, KvCache* cache);
  // After them: each sequence's cache length covers the batch's tokens.
  static void end_batch(const Batch& b, KvCache* cache);
  // Writes row t of src ([T, n]) into the cache's keys (or values) of layer `layer` for token
  // t's sequence and position, at column `col`.
  static void write_cache(KvCache& cache, int layer, const Batch& b, const Tensor& src, int64_t col,
                          bool values);

 private:
  std::shared_ptr<LoraAdapters> lora_;
};

// Replaces every weight with a writable f32 heap copy, keeping tied weights tied, and gives back
// the originals' pages in the checkpoint files (as quantize_weights). Fails (Input error) for FP8
// block-quantized weights, which cannot be trained directly.
void make_trainable(Model& m);
// Quantizes the model's matrix weights (2-D, f32/bf16/f16, or fp8 with its block scales) in memory
// to the types `mix` gives them (io::quant_mix_type; bf16 and f16 round every matrix to that
// type); tied weights stay one tensor. DeepSeek's router stays as stored. The
// originals' pages in the checkpoint files are given back (core/mapped_file.h), as pack_weights'.
void quantize_weights(Model& m, io::QuantMix mix);

// Repacks the model's Q4_K / Q6_K / Q4_0 / Q5_0 matrices (whole groups of 8 rows) into their
// interleaved layouts (core/quant_pack.h); tied weights stay one tensor. load_model does this
// unless told not to.
void pack_weights(Model& m);

std::unique_ptr<Model> load_model(const std::string& dir, const LoadOptions& opt = {});

}  // namespace r1::models
