// A read-only file in memory: memory-mapped (the default; pages are read on first touch, so
// tensors that are never used are never read from disk) or read whole into the heap (--no-mmap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace r1 {

class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path, bool use_mmap = true);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

}  // namespace r1
