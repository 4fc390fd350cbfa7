// Element types of tensors and their scalar conversions. The conversions here are the reference
// definitions the SIMD kernels are tested against.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace r1 {

// The block types hold llama.cpp's layouts (docs/FACTS.md section 8; core/quant.h): Q8_0 (32
// weights: f16 d, 32 int8 q, weight = d * q), Q4_0 and Q5_0 (32 weights, 4- and 5-bit q), Q4_K
// and Q6_K (super-blocks of 256 weights with 6- or 8-bit sub-block scales). Their tensors have
// rows of whole blocks; sizes go through dtype_bytes, never dtype_size. The _R8 types are
// in-memory layouts of Q4_K, Q6_K, Q4_0, Q5_0 and Q8_0 for the GEMM (never in files;
// core/quant_pack.h): groups of 8 rows interleaved (about the bytes per row of the file type), so
// row(i) is valid for i a multiple of 8.
enum class DType : uint8_t {
  F32,
  BF16,
  F16,
  F8_E4M3,
  I32,
  I64,
  U8,
  BOOL,
  Q8_0,
  Q4_0,
  Q5_0,
  Q4_K,
  Q6_K,
  Q4_K_R8,
  Q6_K_R8,
  Q4_0_R8,
  Q5_0_R8,
  Q8_0_R8
};

size_t dtype_size(DType t);  // bytes per element; an Internal error for a block type

// Elements per block: 1, 32 (Q8_0, Q4_0, Q5_0) or 256 (Q4_K, Q6_K); the packed layouts' as their
// file types'.
constexpr int64_t dtype_block(DType t) {
  switch (t) {
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q4_0_R8:
    case DType::Q5_0_R8:
    case DType::Q8_0_R8:
      return 32;
    case DType::Q4_K:
    case DType::Q6_K:
    case DType::Q4_K_R8:
    case DType::Q6_K_R8:
      return 256;
    default:
      return 1;
  }
}
// Bytes per block of a block type (0 for the others).
constexpr size_t dtype_block_bytes(DType t) {
  return t == DType::Q8_0      ? 34
         : t == DType::Q4_0    ? 18
         : t == DType::Q5_0    ? 22
         : t == DType::Q4_K    ? 144
         : t == DType::Q6_K    ? 210
         : t == DType::Q4_K_R8 ? 144  // 1152 bytes per 8 rows' super-block
         : t == DType::Q6_K_R8 ? 212  // 1696
         : t == DType::Q4_0_R8 ? 18   // 288 bytes per 8 rows' 2 blocks
         : t == DType::Q5_0_R8 ? 22   // 352
         : t == DType::Q8_0_R8 ? 34   // 544
                               : 0;
}
constexpr bool is_block_type(DType t) {
  return dtype_block(t) > 1;
}
// Bytes of n consecutive elements along a row (n a multiple of dtype_block(t)).
size_t dtype_bytes(DType t, int64_t n);
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

// Q8_0 rows of n elements (n a multiple of 32), as llama.cpp's reference quantizer: per block
// d = max|x| / 127, q = round(x / d) half away from zero (x * (1 / d), then roundf), d stored as
// f16. The reference definitions the kernels and loaders use.
constexpr int64_t kQ8Block = 32;
constexpr size_t kQ8BlockBytes = dtype_block_bytes(DType::Q8_0);
void quantize_q8_0(const float* x, void* dst, int64_t n);
// One block of that rule: the 32 q of x[0, 32) into q; returns d (before its f16 rounding). The
// activations of the int8 GEMM are quantized with it too, keeping d in f32.
float quantize_block_q8(const float* x, int8_t* q);
void dequantize_q8_0(const void* src, float* y, int64_t n);

}  // namespace r1
