// Safetensors checkpoints: one file, or shards listed by model.safetensors.index.json.
// Format (huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data
// (offsets relative to the end of the header). Every length, offset and shape is checked
// against the file before a tensor is handed out.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace r1::io {

struct TensorInfo {
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the file's data section
  int file = 0;                 // index into WeightStore's files; -1: held in memory
};

class WeightStore {
 public:
  // dir holds model.safetensors, or model.safetensors.index.json and its shards.
  static WeightStore open_dir(const std::string& dir, LoadMode mode = LoadMode::Auto);
  // One .safetensors file.
  static WeightStore open_file(const std::string& path, LoadMode mode = LoadMode::Auto);
  // Tensors held elsewhere (a GGUF file's views, rearranged copies), under Hugging Face names;
  // `source` is what file_of reports for them.
  void add_tensor(const std::string& name, Tensor t, const std::string& source);

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  // The tensor as stored (a view into the file). Fails naming the tensor if it is absent.
  Tensor get(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::string& file_of(const std::string& name) const;
  uint64_t total_bytes() const;

 private:
  void add_file(const std::string& path, LoadMode mode, const std::map<std::string, int>* expect);
  std::vector<std::shared_ptr<MappedFile>> files_;
  std::vector<uint64_t> data_start_;  // header size + 8 per file
  std::map<std::string, TensorInfo> tensors_;
  // add_tensor's tensors (TensorInfo::file -1) and where each came from
  std::map<std::string, std::pair<Tensor, std::string>> held_;
};

// Writes tensors (any dtype, contiguous) as one safetensors file, atomically (temp + rename).
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace r1::io
