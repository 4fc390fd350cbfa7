#include "kernels/gemm_fp8.h"

#include <algorithm>
#include <vector>

namespace r1::kernels {

void gemm_fp8(const GemmParams& p, GemmFn gemm_f32, ToF32Fn to_f32, GemmFn fused, GemmFn packed) {
  if (fused && p.M <= kFp8FusedMaxM) return fused(p);
  if (packed) return packed(p);
  const int64_t K = p.K;
  const int64_t panel = std::clamp<int64_t>(K > 0 ? 32768 / K / 8 * 8 : 8, 8, 256);
  thread_local std::vector<float> tmp;
  tmp.resize(static_cast<size_t>(panel * std::max<int64_t>(K, 1)));
  for (int64_t n0 = p.n_begin; n0 < p.n_end; n0 += panel) {
    const int64_t rows = std::min(panel, p.n_end - n0);
    for (int64_t r = 0; r < rows; ++r) {
      float* o = tmp.data() + r * K;
      const int64_t n = n0 + r;
      to_f32(static_cast<const uint8_t*>(p.w) + n * p.ldw, DType::F8_E4M3, o, K);
      const float* s = p.w_scale + (n / p.block_n) * p.ld_scale;
      for (int64_t k0 = 0, b = 0; k0 < K; k0 += p.block_k, ++b) {
        const float scale = s[b];
        const int64_t k1 = std::min(K, k0 + p.block_k);
        for (int64_t k = k0; k < k1; ++k) o[k] *= scale;
      }
    }
    GemmParams q = p;
    q.w = tmp.data();
    q.ldw = K;
    q.wtype = DType::F32;
    q.w_scale = nullptr;
    q.y = p.y + n0;
    q.n_begin = 0;
    q.n_end = rows;
    gemm_f32(q);
  }
}

}  // namespace r1::kernels
