#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "core/memory.h"

namespace r1 {

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    s[i] = acc;
    // A zero dimension elsewhere does not make [0, 2^40, 2^40] addressable: refuse the overflow.
    if (__builtin_mul_overflow(acc, shape[i] == 0 ? 1 : shape[i], &acc)) {
      std::string dims;
      for (int64_t d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
      fail_input("tensor shape [", dims, "] is too large to address");
    }
  }
  return s;
}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  uint64_t elements = 1;
  for (int64_t d : t.shape) {
    R1_ASSERT(d >= 0);
    elements = mul_sat(elements, static_cast<uint64_t>(d));
  }
  check_memory(mul_sat(elements, dtype_size(dtype)), "a tensor of shape " + t.shape_str());
  t.strides = contiguous_strides(t.shape);
  size_t bytes = t.nbytes();
  size_t alloc = (bytes + 63) / 64 * 64;
  if (alloc == 0) alloc = 64;
  void* p = std::aligned_alloc(64, alloc);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, alloc);
  t.data = p;
  t.owner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  return t;
}

Tensor Tensor::view_of(DType dtype, std::vector<int64_t> shape, void* data,
                       std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.strides = contiguous_strides(t.shape);
  t.data = data;
  t.owner = std::move(owner);
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

bool Tensor::is_contiguous() const {
  return strides == contiguous_strides(shape);
}

std::string Tensor::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace r1
