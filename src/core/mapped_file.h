// A read-only file in memory, mapped or read:
// - Map: pages are read on first touch (tensors never used are never read) and live in the page
//   cache, which the kernel may reclaim when they sit idle (a server between requests), in 4 KiB
//   pages: batched decode and prefill measured 1.3-2.4x slower than from memory read into huge
//   pages (AMD EPYC, a 1.5B bf16 model; bench/README.md), TLB misses being the likely cause.
// - Read: the whole file into anonymous memory asking for transparent huge pages.
// - Auto: Read when the file fits in half of the memory available now, else Map (a model larger
//   than memory still runs, from the page cache).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace r1 {

enum class LoadMode { Auto, Map, Read };

class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path, LoadMode mode = LoadMode::Auto);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool mapped() const { return data_ && reserved_ == 0; }  // Map (else Read, or empty)

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t reserved_ = 0;  // bytes of the anonymous mapping a read file is in
};

// Gives back the memory of the whole pages inside [p, p + n) that lie in a live MappedFile's
// bytes, for a caller that will never read them again (a model whose weights were replaced by
// converted copies): a read file's pages given back would read as zeros, a mapped file's are read
// from the file again. Anything else (heap memory, pages shared with bytes outside the range) is
// left alone. Returns the bytes given back.
size_t discard_file_pages(const void* p, size_t n);

// Whether [p, p + n) lies in a live file read into memory (Read: anonymous, writable pages), so
// that a loader that owns the bytes may rewrite them in place (a weight repacked into a layout
// of the same size) instead of copying them out.
bool file_bytes_writable(const void* p, size_t n);

}  // namespace r1
