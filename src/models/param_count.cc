#include "models/param_count.h"

#include "io/tensor_table.h"

namespace r1::models {

ParamCount count_params(const io::ModelConfig& cfg, int dtype_bytes, const StoredType& stored) {
  ParamCount pc;
  const bool ds = cfg.arch == io::Arch::DeepseekV3;
  const char* float_name = dtype_bytes == 4 ? "F32" : dtype_bytes == 2 ? "BF16" : "?";
  bool embed_known = false;  // the embedding's type from `stored` (a tied lm_head reads it)
  DType embed_dt = DType::F32;
  auto embed_bytes = [&](int64_t n) {
    return embed_known ? static_cast<uint64_t>(r1::dtype_bytes(embed_dt, n))
                       : static_cast<uint64_t>(n) * static_cast<uint64_t>(dtype_bytes);
  };
  for (const io::TensorSpec& s : io::tensor_table(cfg, ds && cfg.ds.num_nextn_predict_layers > 0)) {
    const uint64_t n = static_cast<uint64_t>(s.numel());
    const std::vector<StoredPart> parts =
        s.stored() && stored ? stored(s) : std::vector<StoredPart>{};
    if (!parts.empty() && s.role == io::Role::Embed) {
      embed_known = true;
      embed_dt = parts[0].dtype;
    }
    uint64_t bytes = 0;
    if (!parts.empty()) {
      for (const StoredPart& part : parts) {
        pc.bytes_by_dtype[dtype_name(part.dtype)] += part.bytes;
        bytes += part.bytes;
      }
      pc.total_params += n;
      if (s.layer == cfg.n_layers && ds) pc.mtp_params += n;
    } else if (s.stored()) {
      const bool f32 = s.storage == io::Storage::F32;
      const char* dtype = s.fp8 ? "F8_E4M3" : f32 ? "F32" : float_name;
      bytes = n * (s.fp8 ? 1 : f32 ? 4 : static_cast<uint64_t>(dtype_bytes));
      pc.bytes_by_dtype[dtype] += bytes;
      if (s.fp8) {  // the f32 block scales: bytes, not parameters
        const int64_t bo = cfg.ds.fp8_block_out, bi = cfg.ds.fp8_block_in;
        const uint64_t scales = static_cast<uint64_t>((s.shape[0] + bo - 1) / bo) *
                                static_cast<uint64_t>((s.shape[1] + bi - 1) / bi) * 4;
        pc.bytes_by_dtype["F32"] += scales;
        bytes += scales;
      }
      pc.total_params += n;
      if (s.layer == cfg.n_layers && ds) pc.mtp_params += n;
    } else {
      bytes = embed_bytes(s.numel());  // a tied lm_head reads the embedding
    }
    if (s.role == io::Role::Embed) {  // one row per token
      pc.active_params += static_cast<uint64_t>(cfg.hidden);
      pc.active_bytes += embed_bytes(cfg.hidden);
    } else if (s.per_token) {
      pc.active_params += n;
      pc.active_bytes += bytes;
    }
  }
  if (ds) {
    const auto& d = cfg.ds;
    pc.kv_bytes_per_token = cfg.n_layers * (d.kv_lora_rank + d.qk_rope_head_dim) * 4;
    pc.naive_kv_bytes_per_token =
        cfg.n_layers * cfg.n_heads * (d.qk_nope_head_dim + d.qk_rope_head_dim + d.v_head_dim) * 4;
  } else {
    pc.kv_bytes_per_token = cfg.n_layers * 2 * cfg.n_kv_heads * cfg.head_dim * 4;
  }
  return pc;
}

}  // namespace r1::models
