#include "io/quant_mix.h"

#include <cstdlib>

namespace r1::io {

namespace {

const struct {
  QuantMix mix;
  const char* name;
  int64_t file_type;
} kMixes[] = {{QuantMix::F32, "f32", 0},    {QuantMix::F16, "f16", 1},
              {QuantMix::BF16, "bf16", 32}, {QuantMix::Q8_0, "q8_0", 7},
              {QuantMix::Q4_0, "q4_0", 2},  {QuantMix::Q4_K_M, "q4_k_m", 15}};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The layer of model.layers.N.*, or -1.
int64_t layer_of(const std::string& name) {
  const std::string p = "model.layers.";
  if (name.compare(0, p.size(), p) != 0) return -1;
  return std::strtoll(name.c_str() + p.size(), nullptr, 10);
}

bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

}  // namespace

bool parse_quant_mix(const std::string& s, QuantMix* out) {
  for (const auto& e : kMixes)
    if (s == e.name) {
      *out = e.mix;
      return true;
    }
  return false;
}

const char* quant_mix_name(QuantMix m) {
  for (const auto& e : kMixes)
    if (e.mix == m) return e.name;
  return "?";
}

int64_t quant_mix_file_type(QuantMix m) {
  for (const auto& e : kMixes)
    if (e.mix == m) return e.file_type;
  return 0;
}

bool is_quantized(QuantMix m) {
  return m == QuantMix::Q8_0 || m == QuantMix::Q4_0 || m == QuantMix::Q4_K_M;
}

DType quant_mix_type(QuantMix m, const std::string& name, int64_t cols, int64_t n_layers,
                     bool tied_embeddings) {
  const bool output =
      name == "lm_head.weight" || (tied_embeddings && name == "model.embed_tokens.weight");
  DType t = DType::F32;
  switch (m) {
    case QuantMix::F32:
      return DType::F32;
    case QuantMix::F16:
      return DType::F16;
    case QuantMix::BF16:
      return DType::BF16;
    case QuantMix::Q8_0:
      t = DType::Q8_0;
      break;
    case QuantMix::Q4_0:
      t = output ? DType::Q6_K : DType::Q4_0;
      break;
    case QuantMix::Q4_K_M: {
      const int64_t l = layer_of(name);
      const bool more =
          l >= 0 && use_more_bits(l, n_layers) &&
          (ends_with(name, ".self_attn.v_proj.weight") || ends_with(name, "down_proj.weight"));
      t = output || more ? DType::Q6_K : DType::Q4_K;
      break;
    }
  }
  if ((t == DType::Q4_K || t == DType::Q6_K) && cols % dtype_block(t) != 0)
    t = t == DType::Q4_K ? DType::Q5_0 : DType::Q8_0;
  return cols % dtype_block(t) == 0 ? t : DType::F16;
}

}  // namespace r1::io
