// A tensor: element type, shape, strides (in elements) and a pointer into storage that is kept
// alive by `owner` (a heap buffer or a memory-mapped file). Plain struct, cheap to copy (views
// share storage).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace r1 {

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // elements; row-major contiguous unless a view says otherwise
  void* data = nullptr;
  std::shared_ptr<void> owner;

  // New zero-filled contiguous tensor on the heap (64-byte aligned).
  static Tensor zeros(DType dtype, std::vector<int64_t> shape);
  // The same with its contents undefined: for outputs whose every element is written.
  static Tensor empty(DType dtype, std::vector<int64_t> shape);
  // A contiguous view of memory owned by `owner`.
  static Tensor view_of(DType dtype, std::vector<int64_t> shape, void* data,
                        std::shared_ptr<void> owner);

  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape[i < 0 ? i + ndim() : i]; }
  int64_t numel() const;
  size_t nbytes() const { return dtype_bytes(dtype, numel()); }
  bool is_contiguous() const;
  bool defined() const { return data != nullptr; }

  template <typename T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
  // Pointer to row i of a 2-D (or higher: first index) tensor.
  void* row(int64_t i) const {
    return static_cast<char*>(data) + dtype_bytes(dtype, i * strides[0]);
  }
  std::string shape_str() const;  // "[4, 16]"
};

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);

// "[4, 16]"
std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace r1
