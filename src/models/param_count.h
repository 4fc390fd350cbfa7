// Parameter counts and memory needs computed from config.json alone (and a GGUF file's header),
// for `r1 bench --dry-run`: what a checkpoint holds by dtype, what one decode step reads, and the
// KV cache per token.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/model_config.h"
#include "io/tensor_table.h"

namespace r1::models {

struct ParamCount {
  // Bytes by stored dtype ("F8_E4M3", "BF16", "F32") of the whole checkpoint, and parameters.
  std::map<std::string, uint64_t> bytes_by_dtype;
  uint64_t total_params = 0;
  uint64_t mtp_params = 0;         // of total_params, in the MTP layer
  uint64_t active_params = 0;      // read by one decode step of the main model (one embedding row)
  uint64_t active_bytes = 0;       // bytes of those
  int64_t kv_bytes_per_token = 0;  // the cache r1 keeps (f32), all layers
  int64_t naive_kv_bytes_per_token = 0;  // MLA only: per-head keys and values (f32)
};

// How a tensor is stored where the caller knows it (a GGUF file's header): the type and bytes of
// each part (one, or two where llama.cpp splits it: DeepSeek's kv_b_proj as attn_k_b and
// attn_v_b); none: counted as the config says.
struct StoredPart {
  DType dtype;
  uint64_t bytes;
};
using StoredType = std::function<std::vector<StoredPart>(const io::TensorSpec&)>;

// dtype_bytes: bytes per parameter of the unquantized tensors (2 for a bf16 checkpoint).
// DeepSeek-V3 with quantization_config counts its linear weights as fp8 plus f32 block scales.
// With `stored`, the tensors it knows count in their own type (block types by whole rows), a tied
// lm_head and the embedding row a token reads in the embedding's.
ParamCount count_params(const io::ModelConfig& cfg, int dtype_bytes, const StoredType& stored = {});

}  // namespace r1::models
