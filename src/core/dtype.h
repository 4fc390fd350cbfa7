// Element types of tensors and their scalar conversions. The conversions here are the reference
// definitions the SIMD kernels are tested against.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace r1 {

enum class DType : uint8_t { F32, BF16, F16, F8_E4M3, I32, I64, U8, BOOL };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...
// Parses a safetensors dtype string; returns false for a type r1 does not know.
bool parse_dtype(const std::string& s, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, as PyTorch's float->bfloat16 conversion; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even
// float8 e4m3fn (no infinities; 0x7f/0xff are NaN), as torch.float8_e4m3fn.
float fp8_e4m3_to_f32(uint8_t v);

}  // namespace r1
