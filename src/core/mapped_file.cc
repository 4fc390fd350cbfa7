#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/memory.h"

namespace r1 {

namespace {

// The live files' bytes, for discard_file_pages and file_bytes_writable.
struct Live {
  const uint8_t* data;
  size_t size;
  bool read;  // read into anonymous memory (writable), not mapped
};
std::mutex g_live_mutex;
std::vector<Live> g_live;

void register_live(const uint8_t* data, size_t size, bool read) {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  g_live.push_back({data, size, read});
}

void unregister_live(const uint8_t* data) {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  for (size_t i = 0; i < g_live.size(); ++i)
    if (g_live[i].data == data) {
      g_live.erase(g_live.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
}

// The live file whose bytes hold [a, a + n), or null; g_live_mutex held.
const Live* live_holding(uintptr_t a, size_t n) {
  for (const Live& f : g_live) {
    const uintptr_t d = reinterpret_cast<uintptr_t>(f.data);
    if (a >= d && a + n <= d + f.size) return &f;
  }
  return nullptr;
}

}  // namespace

size_t discard_file_pages(const void* p, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (a + page - 1) / page * page, end = (a + n) / page * page;
  if (p == nullptr || end <= begin) return 0;
  std::lock_guard<std::mutex> lock(g_live_mutex);
  if (!live_holding(a, n)) return 0;
  if (madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED) != 0) return 0;
  return end - begin;
}

bool file_bytes_writable(const void* p, size_t n) {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  const Live* f = live_holding(reinterpret_cast<uintptr_t>(p), n);
  return f && f->read;
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, LoadMode mode) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_input(path, ": ", std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail_input(path, ": not a regular file");
  }
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ == 0) {
    ::close(fd);
    return f;
  }
  if (mode == LoadMode::Auto)
    mode = f->size_ <= memory_available_bytes() / 2 ? LoadMode::Read : LoadMode::Map;
  if (mode == LoadMode::Map) {
    void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      f->data_ = static_cast<uint8_t*>(p);
      ::close(fd);
      register_live(f->data_, f->size_, false);
      return f;
    }
  }
  // Anonymous memory in whole huge pages (2 MiB), asked to be backed by them.
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t reserved = (f->size_ + kHuge - 1) / kHuge * kHuge;
  void* p = mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    ::close(fd);
    fail_input(path, ": cannot allocate ", format_bytes(f->size_), " to read it");
  }
  madvise(p, reserved, MADV_HUGEPAGE);  // a hint: without transparent huge pages, 4 KiB ones
  f->data_ = static_cast<uint8_t*>(p);
  f->reserved_ = reserved;
  size_t done = 0;
  while (done < f->size_) {
    ssize_t n = ::read(fd, f->data_ + done, f->size_ - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail_input(path, ": read failed after ", done, " bytes");
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  register_live(f->data_, f->size_, true);
  return f;
}

MappedFile::~MappedFile() {
  if (!data_) return;
  unregister_live(data_);
  munmap(data_, reserved_ ? reserved_ : size_);
}

}  // namespace r1
