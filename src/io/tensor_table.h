// The tensors of each architecture r1 runs, derived from its config: Hugging Face name, shape,
// role, what it may be stored as, how `r1 train init` fills it, and llama.cpp's name for it.
// This is the one list of a model's weights: loading and parameter slots (models/weights.h),
// `r1 train init`, parameter counts, bytes per decode step and GGUF import / export all read it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/model_config.h"

namespace r1::io {

// What a tensor is to the forward pass; with its layer (and expert) it names one tensor.
enum class Role : uint8_t {
  Embed,
  FinalNorm,
  LmHead,
  AttnNorm,
  FfnNorm,
  Q,
  K,
  V,
  O,
  QBias,
  KBias,
  VBias,
  Gate,  // the dense MLP's, or routed expert `expert`'s
  Up,
  Down,
  GateBias,  // Llama's mlp_bias
  UpBias,
  DownBias,
  QA,  // DeepSeek's multi-head latent attention
  QANorm,
  QB,
  KvA,
  KvANorm,
  KvB,
  Router,
  RouterBias,
  SharedGate,
  SharedUp,
  SharedDown,
  MtpEnorm,  // DeepSeek's multi-token-prediction layer
  MtpHnorm,
  MtpEhProj,
  MtpHeadNorm,
  MtpEmbed,
  MtpHead,
  Count
};

// The dtypes a tensor may be stored in.
enum class Storage : uint8_t {
  Float,   // f32, bf16 or f16 (norms, biases, DeepSeek's router)
  F32,     // f32 only (DeepSeek's e_score_correction_bias)
  Matrix,  // Float, or a block-quantized type (GGUF files, `--quantize`)
  Linear,  // Matrix, or F8_E4M3 with its `<prefix>.weight_scale_inv` f32 block scales
};

enum class InitKind : uint8_t { Normal, Ones, Zeros };

struct TensorSpec {
  std::string name;  // Hugging Face name
  std::vector<int64_t> shape;
  Role role = Role::Embed;
  int32_t layer = -1;   // -1: outside the decoder layers; n_layers: DeepSeek's MTP layer
  int32_t expert = -1;  // routed experts: their index
  Storage storage = Storage::Matrix;
  InitKind init = InitKind::Normal;
  // Shares the tensor of this name instead of holding its own (a tied lm_head), or does so when
  // the checkpoint has none of its own (optional: the MTP layer's embedding and head).
  std::string alias;
  bool optional = false;  // may be absent: then `alias`, or no tensor at all
  bool fp8 = false;       // F8_E4M3 with block scales in DeepSeek's fp8 checkpoints
  // Read by one decode step of the main model: every matrix and norm, the top_k first routed
  // experts of each MoE layer (for the byte count, experts being equal in size); the embedding
  // reads one row of its own.
  bool per_token = true;
  bool frozen = false;  // saved but not trained (e_score_correction_bias, the MTP layer)
  // llama.cpp's name (qwen2, llama, deepseek2); empty: none. DeepSeek's routed experts share
  // one name (one GGUF tensor of all experts, `expert` its index in it).
  std::string gguf;
  int64_t rope_heads = 0;  // llama.cpp stores these rows rotary-interleaved per head (Llama q/k)

  // Whether a checkpoint stores this tensor (not a pure alias).
  bool stored() const { return alias.empty() || optional; }
  int64_t numel() const;
};

// Every tensor of a model of `cfg` in checkpoint order (decoder layers, then the final norm and
// lm_head, after the embedding), with DeepSeek's MTP layer when `with_mtp`.
std::vector<TensorSpec> tensor_table(const ModelConfig& cfg, bool with_mtp = false);

}  // namespace r1::io
