// Non-ISA helpers of the SIMD kernels: thread-local scratch buffers (packed GEMM panels, converted
// inputs) and the GEMM cases that need no arithmetic.
// Compiled without ISA flags on purpose: the standard-library code it instantiates must never be
// an AVX-512 copy.
#include <cstdlib>
#include <new>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref.h"

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

bool gemm_trivial(const GemmParams& p) {
  if (p.wtype != DType::F32 && p.wtype != DType::BF16 && p.wtype != DType::F16) {
    ref::gemm(p);  // reports the unsupported type
    return true;
  }
  if (p.M <= 0 || p.n_end <= p.n_begin) return true;
  if (p.K <= 0) {
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = p.n_begin; n < p.n_end; ++n) p.y[m * p.ldy + n] = 0.0f;
    return true;
  }
  return false;
}

}  // namespace r1::kernels
