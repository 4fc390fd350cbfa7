#include "models/checked_weights.h"

#include "core/error.h"

namespace r1::models {

namespace {
Tensor present(const io::WeightStore& s, const std::string& name) {
  if (!s.has(name)) fail_input("checkpoint is missing tensor ", name);
  return s.get(name);
}

void check_shape(const Tensor& t, const std::string& name, const std::vector<int64_t>& shape) {
  if (t.shape != shape)
    fail_input("tensor ", name, " has shape ", t.shape_str(), " but config.json implies ",
               shape_str(shape));
}
}  // namespace

Tensor float_tensor(const io::WeightStore& s, const std::string& name, std::vector<int64_t> shape) {
  Tensor t = present(s, name);
  if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16)
    fail_input("tensor ", name, " has dtype ", dtype_name(t.dtype), "; expected F32, BF16 or F16");
  check_shape(t, name, shape);
  return t;
}

Tensor matrix_tensor(const io::WeightStore& s, const std::string& name,
                     std::vector<int64_t> shape) {
  Tensor t = present(s, name);
  if (!is_block_type(t.dtype)) return float_tensor(s, name, std::move(shape));
  check_shape(t, name, shape);
  return t;
}

ops::Weight matrix(const io::WeightStore& s, const std::string& prefix, int64_t rows, int64_t cols,
                   int64_t block_out, int64_t block_in) {
  const std::string name = prefix + ".weight";
  ops::Weight w;
  w.w = present(s, name);
  if (w.w.dtype == DType::F8_E4M3) {
    check_shape(w.w, name, {rows, cols});
    const std::string sname = prefix + ".weight_scale_inv";
    w.scale = present(s, sname);
    if (w.scale.dtype != DType::F32)
      fail_input("tensor ", sname, " has dtype ", dtype_name(w.scale.dtype), "; expected F32");
    check_shape(w.scale, sname,
                {(rows + block_out - 1) / block_out, (cols + block_in - 1) / block_in});
    w.block_n = block_out;
    w.block_k = block_in;
    w.fp8_scan = std::make_shared<ops::Fp8Scan>();
    return w;
  }
  w.w = matrix_tensor(s, name, {rows, cols});  // or blocks (a GGUF file)
  return w;
}

}  // namespace r1::models
