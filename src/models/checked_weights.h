// Fetching checkpoint tensors with the checks every architecture needs: present, a float dtype
// the kernels take, and the shape config.json implies. Errors name the tensor.
#pragma once

#include <string>
#include <vector>

#include "io/safetensors.h"
#include "ops/ops.h"

namespace r1::models {

// An f32/bf16/f16 tensor of exactly `shape`.
Tensor float_tensor(const io::WeightStore& s, const std::string& name, std::vector<int64_t> shape);
// A weight matrix of exactly `shape`: f32/bf16/f16, or a block type (a GGUF file's).
Tensor matrix_tensor(const io::WeightStore& s, const std::string& name, std::vector<int64_t> shape);
// The matrix `<prefix>.weight` of [rows, cols]: f32/bf16/f16, a block type, or F8_E4M3 with its
// `<prefix>.weight_scale_inv` f32 block scales [ceil(rows / block_out), ceil(cols / block_in)].
ops::Weight matrix(const io::WeightStore& s, const std::string& prefix, int64_t rows, int64_t cols,
                   int64_t block_out = 128, int64_t block_in = 128);

}  // namespace r1::models
