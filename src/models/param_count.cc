#include "models/param_count.h"

#include "io/tensor_table.h"

namespace r1::models {

namespace {

// A tensor as config.json says it is stored: fp8 linears with their f32 block scales, F32
// tensors, the rest in the checkpoint's float type.
std::vector<StoredPart> config_parts(const io::ModelConfig& cfg, const io::TensorSpec& s,
                                     DType float_dt) {
  const int64_t n = s.numel();
  if (!s.fp8) {
    const DType d = s.storage == io::Storage::F32 ? DType::F32 : float_dt;
    return {{d, dtype_bytes(d, n)}};
  }
  // The f32 block scales: bytes, not parameters.
  const int64_t bo = cfg.ds.fp8_block_out, bi = cfg.ds.fp8_block_in;
  const int64_t scales = (s.shape[0] + bo - 1) / bo * ((s.shape[1] + bi - 1) / bi);
  return {{DType::F8_E4M3, dtype_bytes(DType::F8_E4M3, n)},
          {DType::F32, dtype_bytes(DType::F32, scales)}};
}

}  // namespace

ParamCount count_params(const io::ModelConfig& cfg, int dtype_bytes, const StoredType& stored) {
  ParamCount pc;
  const bool ds = cfg.arch == io::Arch::DeepseekV3;
  const DType float_dt = dtype_bytes == 4 ? DType::F32 : DType::BF16;
  DType embed_dt = float_dt;  // what a tied lm_head and a token's embedding row read
  for (const io::TensorSpec& s : io::tensor_table(cfg, ds && cfg.ds.num_nextn_predict_layers > 0)) {
    const uint64_t n = static_cast<uint64_t>(s.numel());
    uint64_t bytes = 0;
    if (s.stored()) {
      std::vector<StoredPart> parts = stored ? stored(s) : std::vector<StoredPart>{};
      if (!parts.empty() && s.role == io::Role::Embed) embed_dt = parts[0].dtype;
      if (parts.empty()) parts = config_parts(cfg, s, float_dt);
      for (const StoredPart& part : parts) {
        pc.bytes_by_dtype[dtype_name(part.dtype)] += part.bytes;
        bytes += part.bytes;
      }
      pc.total_params += n;
      if (s.layer == cfg.n_layers && ds) pc.mtp_params += n;
    } else {
      bytes = r1::dtype_bytes(embed_dt, s.numel());  // a tied lm_head reads the embedding
    }
    if (s.role == io::Role::Embed) {  // one row per token
      pc.active_params += static_cast<uint64_t>(cfg.hidden);
      pc.active_bytes += r1::dtype_bytes(embed_dt, cfg.hidden);
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
