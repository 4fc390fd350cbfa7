// fp8 W with bf16_dot (kernels.h), AVX-512 with VBMI, fewer than kFp8Bf16PanelMinM X rows: the
// kernel for DeepSeek-V3's fp8 weights in decode and short prompts on CPUs whose bf16 dot products
// are fast. As in the exact fused kernel
// (gemm_fp8_avx512.cc) the block scales go on X, once per block_n group of W rows; here X times
// its scale is then rounded to bf16, and each e4m3 byte becomes its exact bf16 value by two
// 128-entry byte lookups (vpermi2b: the value's low and high byte, the sign or-ed in), so that
// 64 weights of a row take 5 vector operations and two vdpbf16ps per X row, against 6 and four
// f32 FMAs per X row on the exact route, which its vector pipes limit (bench/README.md, "fp8 at
// one X row"). ODR rule for ISA files: only declarations are included; helpers are in an
// anonymous namespace.
#include "kernels/cpu/avx512_intrin.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/gemm_fp8.h"

namespace r1::kernels::avx512 {

namespace {

constexpr int kRows = 4;       // W rows per tile, each its own stream (as the exact kernel)
constexpr int64_t kStep = 64;  // W bytes per row and step; X rows are padded to a multiple
// How far ahead each W row is fetched, in bytes: into L2 kL2Ahead ahead for any M, and for two or
// more X rows also into L1 kL1Ahead ahead. Zen 4, kernels_bench --dtype f8_e4m3+bf16 --m 1,2,4
// --shape 4,2 (from memory, GB/s of fp8), binaries without and with the L2 fetch interleaved, 3
// rounds: one X row 23.2-25.7 -> 24.4-29.0, 2 rows 20.3-21.5 -> 24.9-27.1, 4 rows 15.3-18.9 ->
// 20.9-22.0. Before it, the L1 fetch had lifted 2 and 4 rows (15.9-16.6 -> 17.9-18.2 at M = 4)
// and lost 0-10% at one row.
constexpr int64_t kL2Ahead = 4096, kL1Ahead = 512;
static_assert(kFp8FusedMaxM <= 4, "rows_bf16 is instantiated for 1 to 4 X rows");

// The bf16 bits of each e4m3 magnitude (the code's low 7 bits), low and high byte, as the two
// 128-byte tables of vpermi2b. Every e4m3 value, subnormals included, is a normal bf16 (so
// vdpbf16ps, which reads bf16 subnormals as zero, loses none), and the NaN code (0x7f) gives
// bf16 NaN.
struct Fp8Bf16Tables {
  alignas(64) uint8_t lo[128];
  alignas(64) uint8_t hi[128];
};

const Fp8Bf16Tables& tables() {
  static const Fp8Bf16Tables t = [] {
    Fp8Bf16Tables v{};
    for (int c = 0; c < 128; ++c) {
      const uint32_t bits = std::bit_cast<uint32_t>(fp8_e4m3_to_f32(static_cast<uint8_t>(c)));
      v.lo[c] = static_cast<uint8_t>(bits >> 16);
      v.hi[c] = static_cast<uint8_t>(bits >> 24);
    }
    return v;
  }();
  return t;
}

// One step of rows_bf16 at column k: kStep bytes of each of the R W rows (kFull: all inside K;
// else those past K read as 0, whose bf16 is 0) against the M X rows. Unpacking the looked-up low
// and high bytes pairs weights [0, 8) and [8, 16) of each 16-byte lane into two vectors of bf16
// (the first holding weights 0-7, 16-23, 32-39, 48-55 of the 64, the second the rest), which is
// the order x_bf16_64 writes X in.
template <int M, int R, bool kFull>
inline void bf16_step(const uint8_t* const* w, int64_t k, int64_t K, const uint16_t* xb,
                      int64_t kpad, const __m512i (&t)[4], __m512 (&acc)[M][R]) {
  const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int r = 0; r < R; ++r) {
    const __m512i raw =
        kFull ? _mm512_loadu_si512(w[r] + k)
              : _mm512_maskz_loadu_epi8(K - k >= 64 ? ~0ull : (1ull << (K - k)) - 1ull, w[r] + k);
    const __m512i lo = _mm512_permutex2var_epi8(t[0], raw, t[1]);
    // hi | (raw & 0x80): the sign bit, the top bit of both the code and the bf16.
    const __m512i hi =
        _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t[2], raw, t[3]), raw, sign, 0xf8);
    const __m512bh w0 = (__m512bh)_mm512_unpacklo_epi8(lo, hi);
    const __m512bh w1 = (__m512bh)_mm512_unpackhi_epi8(lo, hi);
    for (int m = 0; m < M; ++m) {
      const uint16_t* x = xb + m * kpad + k;
      acc[m][r] = _mm512_dpbf16_ps(acc[m][r], w0, (__m512bh)_mm512_loadu_si512(x));
      acc[m][r] = _mm512_dpbf16_ps(acc[m][r], w1, (__m512bh)_mm512_loadu_si512(x + 32));
    }
  }
}

// Y[m, n + r * stride] for the R W rows n + r * stride and the M X rows of xb (bf16, rows kpad
// apart, in x_bf16_64's order, zero past K).
template <int M, int R>
void rows_bf16(const GemmParams& p, int64_t n, int64_t stride, const uint16_t* xb, int64_t kpad,
               const __m512i (&t)[4]) {
  const uint8_t* w[R];
  for (int r = 0; r < R; ++r) w[r] = static_cast<const uint8_t*>(p.w) + (n + r * stride) * p.ldw;
  __m512 acc[M][R];
  for (int m = 0; m < M; ++m)
    for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + kStep <= p.K; k += kStep) {
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w[r] + k + kL2Ahead), _MM_HINT_T1);
      if constexpr (M > 1)
        _mm_prefetch(reinterpret_cast<const char*>(w[r] + k + kL1Ahead), _MM_HINT_T0);
    }
    bf16_step<M, R, true>(w, k, p.K, xb, kpad, t, acc);
  }
  if (k < p.K) bf16_step<M, R, false>(w, k, p.K, xb, kpad, t, acc);
  for (int m = 0; m < M; ++m)
    for (int r = 0; r < R; ++r) p.y[m * p.ldy + n + r * stride] = _mm512_reduce_add_ps(acc[m][r]);
}

// 64 columns of X (the first n, the rest read as 0) times `scale`, rounded to bf16 (nearest even)
// into o, reordered as bf16_step pairs the weights.
inline void x_bf16_64(const float* x, int64_t n, float scale, uint16_t* o) {
  // Word j of the first 32 is column 16 (j / 8) + j % 8 of the 64; of the second, that plus 8.
  const __m512i i0 = _mm512_set_epi16(55, 54, 53, 52, 51, 50, 49, 48, 39, 38, 37, 36, 35, 34, 33,
                                      32, 23, 22, 21, 20, 19, 18, 17, 16, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i i1 = _mm512_add_epi16(i0, _mm512_set1_epi16(8));
  const __m512 sv = _mm512_set1_ps(scale);
  __m512 v[4];
  for (int q = 0; q < 4; ++q) {
    const int64_t left = std::clamp<int64_t>(n - 16 * q, 0, 16);
    v[q] = _mm512_mul_ps(
        _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << left) - 1u), x + 16 * q), sv);
  }
  // Columns 0-31 and 32-63 in order (cvtne2ps's second operand gives the lower 16).
  const __m512i a = (__m512i)_mm512_cvtne2ps_pbh(v[1], v[0]);
  const __m512i b = (__m512i)_mm512_cvtne2ps_pbh(v[3], v[2]);
  _mm512_storeu_si512(o, _mm512_permutex2var_epi16(a, i0, b));
  _mm512_storeu_si512(o + 32, _mm512_permutex2var_epi16(a, i1, b));
}

template <int M>
void rows_bf16_range(const GemmParams& p, int64_t n0, int64_t n1, const uint16_t* xb,
                     int64_t kpad) {
  const Fp8Bf16Tables& tab = tables();
  const __m512i t[4] = {_mm512_load_si512(tab.lo), _mm512_load_si512(tab.lo + 64),
                        _mm512_load_si512(tab.hi), _mm512_load_si512(tab.hi + 64)};
  // As the exact kernel: the tile's rows are kRows streams, each through its own run of rows.
  const int64_t run = (n1 - n0) / kRows;
  for (int64_t i = 0; i < run; ++i) rows_bf16<M, kRows>(p, n0 + i, run, xb, kpad, t);
  for (int64_t n = n0 + run * kRows; n < n1; ++n) rows_bf16<M, 1>(p, n, 0, xb, kpad, t);
}

void rows_bf16_any_m(const GemmParams& p, int64_t n0, int64_t n1, const uint16_t* xb,
                     int64_t kpad) {
  switch (p.M) {
    case 1:
      return rows_bf16_range<1>(p, n0, n1, xb, kpad);
    case 2:
      return rows_bf16_range<2>(p, n0, n1, xb, kpad);
    case 3:
      return rows_bf16_range<3>(p, n0, n1, xb, kpad);
    default:
      return rows_bf16_range<4>(p, n0, n1, xb, kpad);
  }
}

std::vector<uint16_t>& x_bf16_buffer(int64_t n) {
  thread_local std::vector<uint16_t> xb;
  xb.resize(static_cast<size_t>(n));
  return xb;
}

// fp8_fused_groups' callback, for any block_k: the group's scaled X (xs, rows kpad apart, zero
// past K) to bf16, then its rows.
void group_bf16(const GemmParams& p, int64_t n0, int64_t n1, const float* xs, int64_t kpad) {
  std::vector<uint16_t>& xb = x_bf16_buffer(p.M * kpad);
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t k = 0; k < kpad; k += kStep)
      x_bf16_64(xs + m * kpad + k, kStep, 1.0f, xb.data() + m * kpad + k);
  rows_bf16_any_m(p, n0, n1, xb.data(), kpad);
}

// The same when block_k is a multiple of kStep (DeepSeek's 128): each 64 columns of X have one
// scale, so X is scaled as it is rounded, in one pass.
void groups_bf16(const GemmParams& p, int64_t kpad) {
  std::vector<uint16_t>& xb = x_bf16_buffer(p.M * kpad);
  for (int64_t g0 = p.n_begin; g0 < p.n_end;) {
    const int64_t group = g0 / p.block_n;
    const int64_t g1 = std::min(p.n_end, (group + 1) * p.block_n);
    const float* s = p.w_scale + group * p.ld_scale;
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t k = 0; k < kpad; k += kStep)
        x_bf16_64(p.x + m * p.ldx + k, p.K - k, s[k / p.block_k], xb.data() + m * kpad + k);
    rows_bf16_any_m(p, g0, g1, xb.data(), kpad);
    g0 = g1;
  }
}

// Up to kFp8FusedMaxM X rows in one pass over W.
void pass_bf16(const GemmParams& p) {
  const int64_t kpad = (p.K + kStep - 1) / kStep * kStep;
  if (p.block_k % kStep == 0) {
    groups_bf16(p, kpad);
  } else {
    fp8_fused_groups(p, kpad, 1.0f, group_bf16);
  }
}

}  // namespace

void gemm_fp8_bf16(const GemmParams& p) {
  if (p.M >= kFp8Bf16PanelMinM) fail_internal("gemm_fp8_bf16: ", p.M, " rows (bf16 panels)");
  // kFp8FusedMaxM X rows per pass over W, each pass bound by the vector pipes more than by
  // memory (the fetch ahead keeps W streaming): up to kFp8Bf16PanelMinM rows that outruns
  // packing W into panels (kernels/gemm_fp8.h).
  fp8_row_passes(p, pass_bf16);
}

}  // namespace r1::kernels::avx512
