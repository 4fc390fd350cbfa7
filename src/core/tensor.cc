#include "core/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include <sys/mman.h>

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

namespace {

// Freed buffers of 1 MiB and more are kept for the next tensor of the same (rounded) size, up
// to a bound: a forward pass allocates the same activation shapes layer after layer, and a
// buffer that glibc gives back to the kernel and takes again is page-faulted and zeroed by the
// kernel anew (measured: a third of a 512-token prefill of a 1.5B model went to that).
constexpr size_t kPoolMin = size_t(1) << 20, kPoolGrain = size_t(64) << 10;

struct BufferPool {
  std::mutex mu;
  std::multimap<size_t, void*> free;  // size -> buffer
  size_t bytes = 0;
  size_t limit = 0;

  BufferPool() : limit(std::min<uint64_t>(memory_limit_bytes() / 16, uint64_t(4) << 30)) {}
  void* take(size_t size) {
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = free.find(size);
      if (it != free.end()) {
        void* p = it->second;
        free.erase(it);
        bytes -= size;
        return p;
      }
    }
    return allocate(size);
  }
  // Buffers of 2 MiB and more start on a huge page and ask for huge pages (weights repacked at
  // load, activations of long prompts): one page fault per 2 MiB instead of 512, and fewer TLB
  // misses when they are streamed. The tail past the last whole huge page stays in small pages.
  static void* allocate(size_t size) {
    constexpr size_t kHuge = size_t(2) << 20;
    void* p = nullptr;
    if (size < kHuge) return std::aligned_alloc(64, size);
    if (posix_memalign(&p, kHuge, size) != 0) return nullptr;
    madvise(p, size / kHuge * kHuge, MADV_HUGEPAGE);  // a hint: may be refused
    return p;
  }
  void give(void* p, size_t size) {
    std::vector<void*> drop;
    {
      std::lock_guard<std::mutex> l(mu);
      if (size > limit) {
        drop.push_back(p);
      } else {
        // Oldest sizes first would need more bookkeeping; the largest go first instead.
        while (bytes + size > limit && !free.empty()) {
          auto last = std::prev(free.end());
          bytes -= last->first;
          drop.push_back(last->second);
          free.erase(last);
        }
        free.emplace(size, p);
        bytes += size;
      }
    }
    for (void* q : drop) std::free(q);
  }
};

BufferPool& pool() {
  static BufferPool* p = new BufferPool();  // never destroyed: tensors may outlive statics
  return *p;
}

Tensor new_tensor(DType dtype, std::vector<int64_t> shape, bool zero) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  uint64_t elements = 1;
  for (int64_t d : t.shape) {
    R1_ASSERT(d >= 0);
    elements = mul_sat(elements, static_cast<uint64_t>(d));
  }
  if (!t.shape.empty() && t.shape.back() % dtype_block(dtype) != 0)
    fail_internal("a ", dtype_name(dtype), " tensor's rows must be whole blocks: ", t.shape_str());
  const uint64_t want = mul_sat(elements / static_cast<uint64_t>(dtype_block(dtype)),
                                dtype_bytes(dtype, dtype_block(dtype)));
  if (want > memory_limit_bytes()) check_memory(want, "a tensor of shape " + t.shape_str());
  t.strides = contiguous_strides(t.shape);
  const size_t bytes = t.nbytes();
  void* p = nullptr;
  if (bytes >= kPoolMin) {
    const size_t size = (bytes + kPoolGrain - 1) / kPoolGrain * kPoolGrain;
    p = pool().take(size);
    if (!p) throw std::bad_alloc();
    t.owner = std::shared_ptr<void>(p, [size](void* q) { pool().give(q, size); });
  } else {
    const size_t alloc = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
    p = std::aligned_alloc(64, alloc);
    if (!p) throw std::bad_alloc();
    t.owner = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  }
  if (zero) std::memset(p, 0, bytes);
  t.data = p;
  return t;
}

}  // namespace

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  return new_tensor(dtype, std::move(shape), true);
}

Tensor Tensor::empty(DType dtype, std::vector<int64_t> shape) {
  return new_tensor(dtype, std::move(shape), false);
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

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string Tensor::shape_str() const {
  return r1::shape_str(shape);
}

}  // namespace r1
