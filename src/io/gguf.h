// GGUF files, llama.cpp's model format (docs/FACTS.md section 8): a header (magic "GGUF",
// version 3, tensor and metadata counts), typed metadata key/values, tensor infos (name, dims
// with ne[0] the fastest, ggml type, offset), padding to `general.alignment` (default 32), then
// the tensor data. Every count, length and offset of a file read is checked against the file
// before it is used (llama.cpp's own reader has had CVEs here); a bad file is one Input error
// naming the file and what is wrong.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace r1::io {

enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

// One metadata value. Integers of every width are kept in `i` (U64 values past INT64_MAX are
// refused), floats in `f`; an array keeps its element type and the elements in `ints`, `floats`
// or `strings` (arrays of arrays are refused: no model metadata uses them).
struct GgufValue {
  GgufType type = GgufType::U32;
  GgufType elem = GgufType::U32;  // arrays only
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;

  static GgufValue of_int(GgufType t, int64_t v);
  static GgufValue of_float(double v);  // F32
  static GgufValue of_bool(bool v);
  static GgufValue of_string(std::string v);
  static GgufValue of_strings(std::vector<std::string> v);
  static GgufValue of_ints(GgufType elem, std::vector<int64_t> v);
  static GgufValue of_floats(std::vector<double> v);  // F32 elements
};

// ggml tensor types r1 reads and writes (llama.cpp's numbering).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q5_0 = 6,
  Q8_0 = 8,
  Q4_K = 12,
  Q6_K = 14,
  BF16 = 30
};

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;  // ne[0] fastest (a [out, in] matrix has ne = {in, out})
  uint64_t offset = 0;      // into the data section
  uint64_t bytes = 0;
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path, LoadMode mode = LoadMode::Auto);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return meta_; }
  const GgufValue* find(const std::string& key) const;  // nullptr when absent
  // Typed access: a missing key or another type is an Input error naming the key.
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;  // F32/F64, or an integer
  const std::string& get_string(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* tensor_info(const std::string& name) const;  // nullptr when absent
  // The tensor as stored, a view into the file, with r1's row-major shape (ne reversed).
  Tensor tensor(const std::string& name) const;

 private:
  std::string path_;
  uint32_t version_ = 0;
  std::shared_ptr<MappedFile> file_;
  uint64_t data_start_ = 0;
  std::vector<std::pair<std::string, GgufValue>> meta_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// r1's dtype of a ggml type and back; false for a type r1 has no dtype for.
bool ggml_to_dtype(GgmlType t, DType* out);
bool dtype_to_ggml(DType t, GgmlType* out);
const char* ggml_type_name(GgmlType t);

// Writes a GGUF file (version 3) atomically (temp + rename). Tensors are written in the order
// given, each a contiguous r1 tensor of F32, F16, BF16 or Q8_0 whose row-major shape becomes ne
// reversed, each at a multiple of `alignment` bytes (a power of two; other than the format's
// default 32 it is written as general.alignment, the first key; metadata may hold that key only
// with the same value).
void write_gguf(const std::string& path,
                const std::vector<std::pair<std::string, GgufValue>>& metadata,
                const std::vector<std::pair<std::string, Tensor>>& tensors,
                uint32_t alignment = 32);

// The same with each tensor made only when its bytes are written, so that a converted model
// never sits in memory whole: tensor i is written as specs[i].parts tensors produce(i, 0),
// produce(i, 1), ... of specs[i]'s dtype whose bytes follow each other (one part: specs[i]'s
// shape; more: any shapes adding up to its bytes, e.g. a stack of experts one expert at a time).
struct GgufTensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  int64_t parts = 1;
};
void write_gguf(const std::string& path,
                const std::vector<std::pair<std::string, GgufValue>>& metadata,
                const std::vector<GgufTensorSpec>& specs,
                const std::function<Tensor(size_t, int64_t)>& produce, uint32_t alignment = 32);

}  // namespace r1::io
