// A stored tensor's values widened to f32, and f32 values stored as a tensor of any weight type:
// the conversions GGUF export (to quantize) and import (to join or dequantize) share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace r1::io {

// F32, BF16, F16 or a block type (rows dequantized); anything else is an input error naming
// `name`.
std::vector<float> tensor_values_f32(const Tensor& t, const std::string& name);

// x (row-major, shape's element count) as a new tensor of `type`: F32 copied, BF16 / F16
// rounded to nearest even, a block type quantized row by row (the last dimension a whole number
// of blocks), rows in parallel.
Tensor tensor_from_f32(const std::vector<float>& x, const std::vector<int64_t>& shape, DType type);

}  // namespace r1::io
