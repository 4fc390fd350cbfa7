#include "kernels/gemm_fp8.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "core/cpu_features.h"

namespace r1::kernels {

void gemm_fp8(const GemmParams& p, GemmFn gemm_f32, ToF32Fn to_f32, GemmFn fused, GemmFn packed) {
  if (fused && p.M <= kFp8FusedMaxM) return fused(p);
  // Passes of kFp8FusedMaxM rows below kFp8PassesBelowM; then packed panels (AVX-512) or W
  // widened to f32 panels per call (AVX2).
  if (fused && p.M < kFp8PassesBelowM) return fp8_row_passes(p, fused);
  if (packed) return packed(p);
  const int64_t K = p.K;
  // Rows per panel: about 1 MB of f32 (at K = 7168, 32 rows). 128 KB panels (8 rows there) left
  // the f32 GEMM too few columns per call: AVX2 at M = 64 / 256 ran 28-32 / 23-31 GFLOP/s against
  // 40-51 / 51-57 now (kernels_bench --dtype f8_e4m3 --shape 4 --isa avx2, Intel Xeon).
  const int64_t panel = std::clamp<int64_t>(K > 0 ? 262144 / K / 8 * 8 : 8, 8, 256);
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

namespace {
// -1: the CPU's default; else an Fp8Widen.
std::atomic<int> g_fp8_widen{-1};
}  // namespace

Fp8Widen fp8_widen() {
  const int w = g_fp8_widen.load(std::memory_order_relaxed);
  if (w >= 0) return static_cast<Fp8Widen>(w);
  return cpu_features().amd ? Fp8Widen::Subnormal : Fp8Widen::F16;
}

void set_fp8_widen(Fp8Widen w) {
  g_fp8_widen.store(static_cast<int>(w), std::memory_order_relaxed);
}

void reset_fp8_widen() {
  g_fp8_widen.store(-1, std::memory_order_relaxed);
}

void fp8_fused_groups(const GemmParams& p, int64_t kpad, float x_scale, Fp8RowsFn rows) {
  thread_local std::vector<float> xs;
  xs.resize(static_cast<size_t>(p.M * kpad));
  // Columns K to kpad stay zero for every group; the others are written for each.
  for (int64_t m = 0; m < p.M; ++m)
    std::fill(xs.begin() + m * kpad + p.K, xs.begin() + (m + 1) * kpad, 0.0f);
  for (int64_t g0 = p.n_begin; g0 < p.n_end;) {
    const int64_t group = g0 / p.block_n;
    const int64_t g1 = std::min(p.n_end, (group + 1) * p.block_n);
    const float* s = p.w_scale + group * p.ld_scale;
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t k0 = 0, b = 0; k0 < p.K; k0 += p.block_k, ++b) {
        const float scale = s[b] * x_scale;
        for (int64_t k = k0; k < std::min(p.K, k0 + p.block_k); ++k)
          xs[m * kpad + k] = p.x[m * p.ldx + k] * scale;
      }
    rows(p, g0, g1, xs.data(), kpad);
    g0 = g1;
  }
}

void fp8_row_passes(const GemmParams& p, GemmFn fn) {
  for (int64_t m0 = 0; m0 < p.M; m0 += kFp8FusedMaxM) {
    GemmParams q = p;
    q.M = std::min(kFp8FusedMaxM, p.M - m0);
    q.x = p.x + m0 * p.ldx;
    q.y = p.y + m0 * p.ldy;
    fn(q);
  }
}

bool fp8_has_nan(const uint8_t* row, int64_t n) {
  // (b & 0x7f) + 1 has bit 7 set only for a NaN code; or-ed over a chunk without branches, so
  // that the loop is vectorized.
  for (int64_t k0 = 0; k0 < n; k0 += 4096) {
    uint8_t seen = 0;
    for (int64_t k = k0; k < std::min(n, k0 + 4096); ++k)
      seen |= static_cast<uint8_t>((row[k] & 0x7f) + 1);
    if (seen & 0x80) return true;
  }
  return false;
}

}  // namespace r1::kernels
