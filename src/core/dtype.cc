#include "core/dtype.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace r1 {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::BF16:
      return 2;
    case DType::F16:
      return 2;
    case DType::F8_E4M3:
      return 1;
    case DType::I32:
      return 4;
    case DType::I64:
      return 8;
    case DType::U8:
      return 1;
    case DType::BOOL:
      return 1;
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q4_K:
    case DType::Q6_K:
    case DType::Q4_K_R8:
    case DType::Q6_K_R8:
    case DType::Q4_0_R8:
    case DType::Q5_0_R8:
    case DType::Q8_0_R8:
      break;
  }
  fail_internal("dtype_size of the block type ", dtype_name(t));
}

size_t dtype_bytes(DType t, int64_t n) {
  const int64_t b = dtype_block(t);
  if (b > 1) {
    R1_ASSERT(n % b == 0);
    return static_cast<size_t>(n / b) * dtype_block_bytes(t);
  }
  return static_cast<size_t>(n) * dtype_size(t);
}

float quantize_block_q8(const float* x, int8_t* q) {
  float amax = 0;
  for (int64_t j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
  for (int64_t j = 0; j < kQ8Block; ++j) q[j] = static_cast<int8_t>(std::roundf(x[j] * id));
  return d;
}

void quantize_q8_0(const float* x, void* dst, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kQ8Block; ++b, x += kQ8Block, out += kQ8BlockBytes) {
    const uint16_t h = f32_to_f16(quantize_block_q8(x, reinterpret_cast<int8_t*>(out + 2)));
    std::memcpy(out, &h, 2);
  }
}

void dequantize_q8_0(const void* src, float* y, int64_t n) {
  const uint8_t* in = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n / kQ8Block; ++b, y += kQ8Block, in += kQ8BlockBytes) {
    uint16_t h;
    std::memcpy(&h, in, 2);
    const float d = f16_to_f32(h);
    for (int64_t j = 0; j < kQ8Block; ++j) y[j] = d * static_cast<int8_t>(in[2 + j]);
  }
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "F16";
    case DType::F8_E4M3:
      return "F8_E4M3";
    case DType::I32:
      return "I32";
    case DType::I64:
      return "I64";
    case DType::U8:
      return "U8";
    case DType::BOOL:
      return "BOOL";
    case DType::Q8_0:
      return "Q8_0";
    case DType::Q4_0:
      return "Q4_0";
    case DType::Q5_0:
      return "Q5_0";
    case DType::Q4_K:
      return "Q4_K";
    case DType::Q6_K:
      return "Q6_K";
    case DType::Q4_K_R8:
      return "Q4_K_R8";
    case DType::Q6_K_R8:
      return "Q6_K_R8";
    case DType::Q4_0_R8:
      return "Q4_0_R8";
    case DType::Q5_0_R8:
      return "Q5_0_R8";
    case DType::Q8_0_R8:
      return "Q8_0_R8";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType* out) {
  static const struct {
    const char* name;
    DType t;
  } table[] = {{"F32", DType::F32},         {"BF16", DType::BF16}, {"F16", DType::F16},
               {"F8_E4M3", DType::F8_E4M3}, {"I32", DType::I32},   {"I64", DType::I64},
               {"U8", DType::U8},           {"BOOL", DType::BOOL}};
  for (const auto& e : table)
    if (s == e.name) {
      *out = e.t;
      return true;
    }
  return false;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  uint32_t abs = u & 0x7fffffff;
  if (abs > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00);   // NaN
  if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // overflow -> inf
  if (abs < 0x38800000) {  // result is subnormal or zero: round at 2^-24
    float a;
    std::memcpy(&a, &abs, 4);
    float q = std::nearbyint(a * 16777216.0f);  // current rounding mode: nearest even
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(q));
  }
  uint32_t exp = ((abs >> 23) - 112) << 10;
  uint32_t mant = abs & 0x7fffff;
  uint32_t r = exp | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (r & 1))) ++r;
  return static_cast<uint16_t>(sign | r);
}

float fp8_e4m3_to_f32(uint8_t v) {
  uint32_t sign = v >> 7, exp = (v >> 3) & 0xf, mant = v & 7;
  float r;
  if (exp == 0xf && mant == 7) {
    r = NAN;
  } else if (exp == 0) {
    r = std::ldexp(static_cast<float>(mant), -9);
  } else {
    r = std::ldexp(static_cast<float>(mant | 8), static_cast<int>(exp) - 10);
  }
  return sign ? -r : r;
}

}  // namespace r1
