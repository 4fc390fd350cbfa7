// Non-ISA helpers of the SIMD kernels: thread-local scratch buffers (packed GEMM panels, converted
// inputs) and the GEMM cases that need no arithmetic.
// Compiled without ISA flags on purpose: the standard-library code it instantiates must never be
// an AVX-512 copy.
#include <cstdlib>
#include <new>

#include "core/error.h"
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
  if ((p.x_trans || p.w_trans || p.accumulate) && p.wtype != DType::F32)
    fail_internal("gemm: transposed operands and accumulation need f32 weights");
  return gemm_empty(p);
}

bool gemm_empty(const GemmParams& p) {
  if (p.M <= 0 || p.n_end <= p.n_begin) return true;
  if (p.K <= 0) {
    if (p.accumulate) return true;  // Y += 0
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = p.n_begin; n < p.n_end; ++n) p.y[m * p.ldy + n] = 0.0f;
    return true;
  }
  return false;
}

QuantizedX quantized_x(const GemmParams& p,
                       void (*quantize)(const float*, int64_t, int8_t*, float*), int64_t extra) {
  const int64_t nb = p.K / 32;
  const int64_t q_bytes = (p.M * p.K + 63) / 64 * 64, d_floats = (p.M * nb + 15) / 16 * 16;
  const bool own = p.xq == nullptr;
  if (!own && extra == 0) return {p.xq, p.xd, nullptr};
  // Layout: M rows of K int8 (when quantized here), M * nb scales, then `extra` floats.
  const int64_t lead = own ? q_bytes + 4 * d_floats : 0;
  char* base = static_cast<char*>(scratch(kScratchX, static_cast<size_t>(lead + 4 * extra + 64)));
  QuantizedX x{p.xq, p.xd, extra > 0 ? reinterpret_cast<float*>(base + lead) : nullptr};
  if (own) {
    int8_t* q = reinterpret_cast<int8_t*>(base);
    float* d = reinterpret_cast<float*>(base + q_bytes);
    for (int64_t m = 0; m < p.M; ++m) quantize(p.x + m * p.ldx, p.K, q + m * p.K, d + m * nb);
    x.q = q;
    x.d = d;
  }
  return x;
}

}  // namespace r1::kernels
