#include "io/tensor_values.h"

#include <algorithm>

#include "core/error.h"
#include "core/quant.h"
#include "core/threads.h"

namespace r1::io {

std::vector<float> tensor_values_f32(const Tensor& t, const std::string& name) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  const int64_t n = t.numel();
  switch (t.dtype) {
    case DType::F32:
      std::copy(t.ptr<float>(), t.ptr<float>() + n, out.begin());
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(t.ptr<uint16_t>()[i]);
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(t.ptr<uint16_t>()[i]);
      break;
    default: {
      if (!is_block_type(t.dtype) || t.ndim() == 0)
        fail_input("tensor ", name, " is ", dtype_name(t.dtype),
                   "; r1 widens F32, BF16, F16 and the GGUF block types");
      const int64_t cols = t.shape.back();
      for (int64_t r = 0; cols > 0 && r < n / cols; ++r)
        dequantize_row(t.dtype, static_cast<const char*>(t.data) + dtype_bytes(t.dtype, r * cols),
                       out.data() + r * cols, cols);
    }
  }
  return out;
}

Tensor tensor_from_f32(const std::vector<float>& x, const std::vector<int64_t>& shape, DType type) {
  Tensor t = Tensor::zeros(type, shape);
  const int64_t n = static_cast<int64_t>(x.size());
  switch (type) {
    case DType::F32:
      std::copy(x.begin(), x.end(), t.ptr<float>());
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) t.ptr<uint16_t>()[i] = f32_to_bf16(x[i]);
      break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) t.ptr<uint16_t>()[i] = f32_to_f16(x[i]);
      break;
    default: {
      const int64_t cols = shape.back();
      thread_pool().parallel_range(n / cols, 8, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          quantize_row(type, x.data() + r * cols,
                       static_cast<char*>(t.data) + dtype_bytes(type, r * cols), cols);
      });
    }
  }
  return t;
}

}  // namespace r1::io
