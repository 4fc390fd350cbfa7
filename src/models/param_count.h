// Parameter counts and memory needs computed from config.json alone, for `r1 bench --dry-run`:
// what a checkpoint holds by dtype, what one decode step reads, and the KV cache per token.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "io/model_config.h"

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

// dtype_bytes: bytes per parameter of the unquantized tensors (2 for a bf16 checkpoint).
// DeepSeek-V3 with quantization_config counts its linear weights as fp8 plus f32 block scales.
ParamCount count_params(const io::ModelConfig& cfg, int dtype_bytes);

}  // namespace r1::models
