// Thread-local scratch buffers for the SIMD kernels (packed GEMM panels, converted inputs).
// Compiled without ISA flags on purpose: the standard-library code it instantiates must never be
// an AVX-512 copy.
#include <cstdlib>
#include <new>

#include "kernels/cpu/cpu_kernels.h"

namespace r1::kernels {

namespace {

struct Buffer {
  void* data = nullptr;
  size_t size = 0;
  ~Buffer() { std::free(data); }
};

thread_local Buffer t_buffers[kScratchSlots];

}  // namespace

void* scratch(int slot, size_t bytes) {
  Buffer& b = t_buffers[slot];
  if (b.size < bytes) {
    std::free(b.data);
    b.data = nullptr;
    b.size = 0;
    size_t rounded = (bytes + 4095) / 4096 * 4096;
    b.data = std::aligned_alloc(64, rounded);
    if (b.data == nullptr) throw std::bad_alloc();
    b.size = rounded;
  }
  return b.data;
}

}  // namespace r1::kernels
