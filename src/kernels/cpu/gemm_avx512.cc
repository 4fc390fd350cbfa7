// AVX-512 GEMM: Y[m, n] = sum_k X[m, k] W[n, k] (contract in kernels/kernels.h).
//
// Small M (decode): W rows are streamed once and each is reused for every X row while it sits in
// registers or L1 ("dot tiles": R rows of W x MB rows of X, one 16-lane accumulator each,
// reduced at the end). bf16 W uses vdpbf16ps with X converted to bf16 once per call; f16 W is
// widened with vcvtph2ps; f32 W uses FMA.
//
// ODR rule for ISA files: only declarations are included besides <immintrin.h> (avx512_intrin.h);
// every helper lives in an anonymous namespace.
#include "kernels/cpu/avx512_intrin.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>

#include "core/error.h"
#include "core/quant.h"
#include "core/quant_pack.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/fp8_avx512.h"
#include "kernels/ref/ref.h"

namespace r1::kernels::avx512 {

namespace {

__mmask16 mask16(int64_t r) {
  return static_cast<__mmask16>((1u << r) - 1u);
}  // r in [0,16]
__mmask32 mask32(int64_t r) {
  return r >= 32 ? 0xffffffffu : static_cast<__mmask32>((1u << r) - 1u);
}
int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

// X rows [M, K] -> bf16 rows of length ldb (>= K, zero padded), round to nearest even.
void convert_x_bf16(const float* x, int64_t ldx, int64_t M, int64_t K, uint16_t* xb, int64_t ldb) {
  for (int64_t m = 0; m < M; ++m) {
    const float* src = x + m * ldx;
    uint16_t* dst = xb + m * ldb;
    for (int64_t k = 0; k < ldb; k += 16) {
      __m512 v = _mm512_maskz_loadu_ps(mask16(K - k <= 0 ? 0 : (K - k < 16 ? K - k : 16)), src + k);
      __m256bh b = _mm512_cvtneps_pbh(v);
      std::memcpy(dst + k, &b, 32);
    }
  }
}

// 16 bf16 pairs: lane i holds bf16(lo[i]) in its low half and bf16(hi[i]) in its high half.
__m512i bf16_pairs(__m512 lo, __m512 hi) {
  const __m512i a = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
  const __m512i b = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
  return _mm512_or_si512(a, _mm512_slli_epi32(b, 16));
}

// ---------------------------------------------------------------------------------------------
// Dot tiles: y[m * ldy + r * ycol] = X[m, :] . W[r * wstride, :] for r < R, m < MB.
//
// gemm_dot gives the R rows of a tile a distance of a quarter of the column range, so each of
// the R row pointers walks one long sequential stream across consecutive tiles (4 long streams
// read ~25% faster than 4 short ones restarted every tile on Zen 4). With more than one X row
// each stream is also prefetched into L2 4 KiB ahead: without it, compute and memory do not
// overlap (M = 4: 14 -> 20 GB/s, M = 8: 11 -> 17 GB/s bf16); prefetching into L1 (T0, 0.5-3 KiB
// ahead) measured no faster. M = 1 has no software prefetch and 4 streams, as the AVX2 kernel:
// on Zen 5 (2026-12-04) the 8 prefetched streams it had before read slower, and bf16 decode of a
// 1.5B-shaped model went 13-37% faster with this and the 32-byte loads below, from safetensors
// and GGUF alike, exact or with bf16 dot products, at 1 and 2 threads (bench/README.md, "bf16
// decode tiles"). On Zen 4 the 8 streams had read 10-25% faster at M = 1 than 4 (not measured
// again); Intel not measured.

// BF16: bf16 pairs for vdpbf16ps (X rounded to bf16, bf16_dot); BF16X: bf16 widened exactly.
enum class WKind { F32, BF16, F16, BF16X };

// K elements per step: one zmm of W.
template <WKind kW>
constexpr int64_t kStep = kW == WKind::BF16 ? 32 : 16;

template <WKind kW>
constexpr int64_t kEs = kW == WKind::F32 ? 4 : 2;  // bytes per W element
constexpr int64_t kPrefetchBytes = 4096;

// 64 bytes as two 32-byte loads: GGUF rows start only 32-byte aligned, and one 64-byte load
// there spans two cache lines every time.
inline __m512 load_halves(const void* p) {
  const __m256i* q = static_cast<const __m256i*>(p);
  return _mm512_castsi512_ps(_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(q)),
                                                _mm256_loadu_si256(q + 1), 1));
}

// W elements [off, off + kStep) of a row; `count` < kStep: the rest are zero.
template <WKind kW>
__m512 load_w(const void* w, int64_t off) {
  if constexpr (kW == WKind::F32) return load_halves(static_cast<const float*>(w) + off);
  if constexpr (kW == WKind::F16)
    return _mm512_cvtph_ps(_mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + off)));
  if constexpr (kW == WKind::BF16X)
    return _mm512_castsi512_ps(_mm512_slli_epi32(
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + off))),
        16));
  return load_halves(static_cast<const uint16_t*>(w) + off);
}
template <WKind kW>
__m512 load_w_part(const void* w, int64_t off, int64_t count) {
  if constexpr (kW == WKind::F32)
    return _mm512_maskz_loadu_ps(mask16(count), static_cast<const float*>(w) + off);
  if constexpr (kW == WKind::F16)
    return _mm512_cvtph_ps(
        _mm256_maskz_loadu_epi16(mask16(count), static_cast<const uint16_t*>(w) + off));
  if constexpr (kW == WKind::BF16X)
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(
                              mask16(count), static_cast<const uint16_t*>(w) + off)),
                          16));
  return _mm512_castsi512_ps(
      _mm512_maskz_loadu_epi16(mask32(count), static_cast<const uint16_t*>(w) + off));
}
// X as the W kind pairs with it: f32 rows, or bf16 rows zero padded to a multiple of 32.
template <WKind kW>
__m512 load_x(const void* x, int64_t off) {
  if constexpr (kW == WKind::BF16)
    return _mm512_castsi512_ps(_mm512_loadu_si512(static_cast<const uint16_t*>(x) + off));
  return _mm512_loadu_ps(static_cast<const float*>(x) + off);
}
template <WKind kW>
__m512 load_x_part(const void* x, int64_t off, int64_t count) {
  if constexpr (kW == WKind::BF16) return load_x<kW>(x, off);  // padded with zeros
  return _mm512_maskz_loadu_ps(mask16(count), static_cast<const float*>(x) + off);
}
template <WKind kW>
__m512 madd(__m512 acc, __m512 x, __m512 w) {
  if constexpr (kW == WKind::BF16)
    return _mm512_dpbf16_ps(acc, (__m512bh)_mm512_castps_si512(x),
                            (__m512bh)_mm512_castps_si512(w));
  return _mm512_fmadd_ps(x, w, acc);
}

// The four horizontal sums of a, b, c, d.
__m128 hsum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m256 a2 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
  const __m256 b2 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
  const __m256 c2 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
  const __m256 d2 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a2, b2), _mm256_hadd_ps(c2, d2));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

template <int R, int MB, WKind kW>
void dot_tile(const void* x, int64_t ldx, const void* w, int64_t wstride, int64_t K, float* y,
              int64_t ldy, int64_t ycol) {
  constexpr int64_t S = kStep<kW>;
  __m512 acc[MB][R];
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[m][r] = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + S <= K; k += S) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      wv[r] = load_w<kW>(w, r * wstride + k);
      if constexpr (MB > 1)
        _mm_prefetch(static_cast<const char*>(w) + (r * wstride + k) * kEs<kW> + kPrefetchBytes,
                     _MM_HINT_T1);
    }
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m512 xv = load_x<kW>(x, m * ldx + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[m][r] = madd<kW>(acc[m][r], xv, wv[r]);
    }
  }
  if (k < K) {
    __m512 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load_w_part<kW>(w, r * wstride + k, K - k);
#pragma GCC unroll 8
    for (int m = 0; m < MB; ++m) {
      const __m512 xv = load_x_part<kW>(x, m * ldx + k, K - k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[m][r] = madd<kW>(acc[m][r], xv, wv[r]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < MB; ++m) {
    float* ym = y + m * ldy;
    if constexpr (R % 4 == 0) {
#pragma GCC unroll 2
      for (int g = 0; g < R; g += 4) {
        alignas(16) float s[4];
        _mm_store_ps(s, hsum4(acc[m][g], acc[m][g + 1], acc[m][g + 2], acc[m][g + 3]));
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) ym[(g + r) * ycol] = s[r];
      }
    } else {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) ym[r * ycol] = _mm512_reduce_add_ps(acc[m][r]);
    }
  }
}

struct DotArgs {
  const void* x;  // f32 X, or its bf16 copy
  int64_t ldx;    // elements
  size_t x_es, w_es;
};

// The tiles of R W rows and 1 .. 6 X rows, by X rows - 1.
using DotTile = void (*)(const void*, int64_t, const void*, int64_t, int64_t, float*, int64_t,
                         int64_t);
template <int R, WKind kW>
constexpr DotTile kDotTiles[6] = {dot_tile<R, 1, kW>, dot_tile<R, 2, kW>, dot_tile<R, 3, kW>,
                                  dot_tile<R, 4, kW>, dot_tile<R, 5, kW>, dot_tile<R, 6, kW>};

// R W rows (n, n + step, ...) against every X row, in passes of up to 6 X rows (4 x 6 tiles:
// 24 accumulators; 6 rows per pass measured 5-20% faster than 4 for M = 6..32), the rows split
// evenly between passes. Passes after the first find the W rows in L1.
template <int R, WKind kW>
void tile_rows(const GemmParams& p, const DotArgs& a, int64_t n, int64_t step) {
  constexpr int64_t kMaxMB = std::size(kDotTiles<R, kW>);
  const void* w = static_cast<const char*>(p.w) + n * p.ldw * static_cast<int64_t>(a.w_es);
  const int64_t wstride = step * p.ldw;
  const int64_t passes = (p.M + kMaxMB - 1) / kMaxMB;
  int64_t m = 0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const int64_t left = passes - pass;
    const int64_t mb = (p.M - m + left - 1) / left;
    const void* x = static_cast<const char*>(a.x) + m * a.ldx * static_cast<int64_t>(a.x_es);
    float* y = p.y + m * p.ldy + n;
    kDotTiles<R, kW>[mb - 1](x, a.ldx, w, wstride, p.K, y, p.ldy, step);
    m += mb;
  }
}

// Tiles of kR rows a (range / kR) apart, then the leftover rows one at a time.
template <int kR, WKind kW>
void dot_rows(const GemmParams& p, const DotArgs& a) {
  const int64_t q = (p.n_end - p.n_begin) / kR;  // tile t has rows n_begin + t + r * q
  for (int64_t t = 0; t < q; ++t) tile_rows<kR, kW>(p, a, p.n_begin + t, q);
  for (int64_t n = p.n_begin + kR * q; n < p.n_end; ++n) tile_rows<1, kW>(p, a, n, 1);
}

void gemm_dot(const GemmParams& p) {
  DotArgs a{p.x, p.ldx, 4, p.wtype == DType::F32 ? 4u : 2u};
  if (p.wtype == DType::BF16 && !p.bf16_dot) {
    dot_rows<4, WKind::BF16X>(p, a);
  } else if (p.wtype == DType::BF16) {
    if (p.xb) {
      a = DotArgs{p.xb, p.ldxb, 2, 2};
    } else {
      const int64_t ldb = round_up(p.K, 32);
      uint16_t* xb = static_cast<uint16_t*>(scratch(kScratchX, p.M * ldb * 2));
      convert_x_bf16(p.x, p.ldx, p.M, p.K, xb, ldb);
      a = DotArgs{xb, ldb, 2, 2};
    }
    dot_rows<4, WKind::BF16>(p, a);
  } else if (p.wtype == DType::F16) {
    dot_rows<4, WKind::F16>(p, a);
  } else {
    dot_rows<4, WKind::F32>(p, a);
  }
}

// ---------------------------------------------------------------------------------------------
// Large M (prefill, training): packed panels and a register-tiled outer-product micro-kernel.
//
// Loop nest, for each chunk of kMc X rows (bf16: converted to bf16 rows once per chunk):
//   for n0 in [n_begin, n_end) step kNc, for k0 in [0, K) step KC:
//     pack W[n0 : n0 + kNc, k0 : k0 + KC] into panels of kNr = 32 columns, k-major
//       (f32 / f16 -> f32 [KC][32]; bf16 -> bf16 pairs [KC/2][32][2] for vdpbf16ps);
//       the packed block (256 KiB) stays in L2;
//     for m0 step kMr:   the kMr X rows x KC (8-16 KiB) stay in L1 across the panels
//       for each panel:  micro-kernel: Y[m0 : m0 + kMr, 32 columns] (+)= X rows . panel,
//                        2 x kMr zmm accumulators; per k step 2 W vector loads and kMr
//                        broadcasts of X (the broadcast dimension, read in place).
// Tails: W rows past n_end and k past K are packed as zeros; Y columns are stored with masks;
// the row count of the last micro-tile is a template parameter. Measured and not kept: 12 or 14
// X rows per tile (no faster), other KC (128, 512) and NC (128, 512) (all within 3%).

constexpr int kMr = 8;                          // X rows per micro-tile
constexpr int kNr = kPanelCols;                 // output columns per micro-tile (2 zmm)
constexpr int64_t kNc = 256;                    // W rows per packed block
constexpr int64_t kKcF32 = 256, kKcBf16 = 512;  // K per packed block: 256 KiB either way
constexpr int64_t kMc = 512;                    // X rows per chunk (bounds the bf16 copy of X)

#include "kernels/cpu/transpose16_avx512.inc"

// Whether the panels hold bf16 pairs for vdpbf16ps: bf16 W, or f32, fp8 (times its scales) or
// block-quantized W rounded to bf16 (bf16_dot).
bool bf16_panels(const GemmParams& p) {
  return p.bf16_dot && (p.wtype == DType::BF16 || p.wtype == DType::F32 ||
                        p.wtype == DType::F8_E4M3 || is_block_type(p.wtype));
}

// Weights [k, k + 32) (one chunk) of a Q8_0 or plain K-quant row as 16 bf16 pairs.
__m512i block_chunk_pairs(DType t, const char* row, int64_t k) {
  if (t == DType::Q8_0) {
    const char* blk = row + (k / 32) * kQ8BlockBytes;
    uint16_t h;
    std::memcpy(&h, blk, 2);
    const __m512 d = _mm512_set1_ps(_cvtsh_ss(h));
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
    return (__m512i)_mm512_cvtne2ps_pbh(_mm512_mul_ps(hi, d), _mm512_mul_ps(lo, d));
  }
  QuantChunk ch;
  decode_chunk(t, row, k / 32, &ch);
  const __m512 mn = _mm512_set1_ps(ch.mn);
  const __m512 lo = _mm512_fmsub_ps(
      _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)ch.q))),
      _mm512_set1_ps(ch.f[0]), mn);
  const __m512 hi = _mm512_fmsub_ps(
      _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)(ch.q + 16)))),
      _mm512_set1_ps(ch.f[1]), mn);
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

// Packs W rows [n0, n0 + rows) (rows <= kNc; missing rows are zero), k in [k0, k0 + kc), into
// panels of kNr columns: f32 panel [kc][32]; bf16 panel [ceil(kc/2)][32] of 32-bit pairs.
// Panel j starts at dst + j * steps * kNr (steps = kc, or ceil(kc/2) for bf16). Q8_0 W (k0 and
// kc whole 32-blocks) goes to f32 panels, each weight d * q widened exactly (an f16 scale times
// an integer of 7 bits fits f32's 24-bit significand); fp8 W goes to f32 panels as the value
// times its block's scale, rounded once (as ref::to_f32 then the multiply). With bf16_dot, fp8
// and block types go to bf16 pairs of their f32 values (kernels.h), the packed layouts through
// pack_packed_bf16.
void pack_w(const GemmParams& p, int64_t n0, int64_t rows, int64_t k0, int64_t kc, uint32_t* dst) {
  if (p.w_trans) {  // f32, k-major: each panel row is a (masked) copy of 32 columns
    const float* w = static_cast<const float*>(p.w);
    for (int64_t j = 0; j < rows; j += kNr) {
      const int64_t left = rows - j;
      const __mmask16 m0 = mask16(left < 16 ? left : 16),
                      m1 = mask16(left > 16 ? (left < 32 ? left - 16 : 16) : 0);
      if (p.bf16_dot) {  // rounded to bf16 pairs of rows k, k + 1
        const int64_t steps = (kc + 1) / 2;
        uint32_t* panel = dst + (j / kNr) * steps * kNr;
        for (int64_t s = 0; s < steps; ++s) {
          const float* src = w + (k0 + 2 * s) * p.ldw + n0 + j;
          const bool second = 2 * s + 1 < kc;
          for (int h = 0; h < 2; ++h) {
            const __mmask16 mh = h ? m1 : m0;
            const __m512 lo = _mm512_maskz_loadu_ps(mh, src + 16 * h);
            const __m512 hi =
                second ? _mm512_maskz_loadu_ps(mh, src + p.ldw + 16 * h) : _mm512_setzero_ps();
            _mm512_store_si512(panel + s * kNr + 16 * h, bf16_pairs(lo, hi));
          }
        }
        continue;
      }
      float* panel = reinterpret_cast<float*>(dst) + (j / kNr) * kc * kNr;
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = w + (k0 + k) * p.ldw + n0 + j;
        _mm512_store_ps(panel + k * kNr, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(panel + k * kNr + 16, _mm512_maskz_loadu_ps(m1, src + 16));
      }
    }
    return;
  }
  // bf16 pairs (bf16 W, or f32 or block W rounded); exact bf16 widens to f32
  const bool bf16 = bf16_panels(p);
  if (bf16 && is_packed_type(p.wtype)) return pack_packed_bf16(p, n0, rows, k0, kc, dst);
  if (p.wtype == DType::Q8_0_R8) return pack_packed_f32(p, n0, rows, k0, kc, dst);
  const int64_t steps = bf16 ? (kc + 1) / 2 : kc;  // k steps (bf16: pairs) in a panel
  const size_t es = p.wtype == DType::F32 ? 4 : 2;
  const char* wbase = static_cast<const char*>(p.w);
  const int64_t block_row =
      is_block_type(p.wtype) ? static_cast<int64_t>(dtype_bytes(p.wtype, p.ldw)) : 0;
  const bool fp8 = p.wtype == DType::F8_E4M3;
  for (int64_t g = 0; g < round_up(rows, 16); g += 16) {  // groups of 16 W rows
    uint32_t* panel = dst + (g / kNr) * steps * kNr + (g % kNr);
    const float* scale_row[16] = {};  // fp8: each row's block scales
    for (int i = 0; fp8 && i < 16 && g + i < rows; ++i)
      scale_row[i] = p.w_scale + ((n0 + g + i) / p.block_n) * p.ld_scale;
    for (int64_t s = 0; s < steps; s += 16) {  // 16 k steps at a time
      const int64_t k = k0 + (bf16 ? 2 * s : s);
      const int64_t k_left = k0 + kc - k;  // elements of this row left in the block
      // fp8: row i's 16 values from column k + off (those past the block read as 0) times 2^-8
      // (kernels/cpu/fp8_avx512.h), times its block scales * 2^8: the value times its scale,
      // rounded once (as ref::to_f32 then the multiply).
      auto fp8_scaled16 = [&](int i, int64_t off) {
        const int64_t kk = k + off, left = std::clamp<int64_t>(k_left - off, 0, 16);
        if (left == 0) return _mm512_setzero_ps();
        const float* srow = scale_row[i];
        __m512 sc;
        if (kk / p.block_k == (kk + left - 1) / p.block_k) {  // one k block (DeepSeek: always)
          sc = _mm512_set1_ps(srow[kk / p.block_k] * 256.0f);
        } else {
          alignas(64) float lane[16];
          for (int64_t l = 0; l < 16; ++l)
            lane[l] = srow[std::min(kk + l, p.K - 1) / p.block_k] * 256.0f;
          sc = _mm512_load_ps(lane);
        }
        const uint8_t* row = reinterpret_cast<const uint8_t*>(wbase) + (n0 + g + i) * p.ldw + kk;
        return _mm512_mul_ps(fp8x16_times_2m8(row, mask16(left)), sc);
      };
      __m512i r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) {
        if (g + i >= rows) {
          r[i] = _mm512_setzero_si512();
          continue;
        }
        if (bf16 && is_block_type(p.wtype)) {  // a whole chunk of 32: 16 pairs
          r[i] = block_chunk_pairs(p.wtype, wbase + (n0 + g + i) * block_row, k);
          continue;
        }
        if (p.wtype == DType::Q8_0) {
          const char* blk = wbase + (n0 + g + i) * block_row + (k / 32) * kQ8BlockBytes;
          uint16_t h;
          std::memcpy(&h, blk, 2);
          const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2 + k % 32));
          r[i] = _mm512_castps_si512(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)),
                                                   _mm512_set1_ps(_cvtsh_ss(h))));
          continue;
        }
        if (fp8) {  // f32 values, or with bf16_dot 32 of them rounded to 16 bf16 pairs
          r[i] = bf16 ? (__m512i)_mm512_cvtne2ps_pbh(fp8_scaled16(i, 16), fp8_scaled16(i, 0))
                      : _mm512_castps_si512(fp8_scaled16(i, 0));
          continue;
        }
        const char* row = wbase + ((n0 + g + i) * p.ldw + k) * static_cast<int64_t>(es);
        if (bf16 && p.wtype == DType::F32) {  // 32 values rounded: the same 16 pairs
          const float* f = reinterpret_cast<const float*>(row);
          const __m512 lo = _mm512_maskz_loadu_ps(mask16(k_left < 16 ? k_left : 16), f);
          const __m512 hi = _mm512_maskz_loadu_ps(
              mask16(k_left > 16 ? (k_left < 32 ? k_left - 16 : 16) : 0), f + 16);
          r[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        } else if (bf16) {
          r[i] = _mm512_maskz_loadu_epi16(mask32(k_left), row);
        } else if (p.wtype == DType::F16) {
          r[i] = _mm512_castps_si512(
              _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask16(k_left < 16 ? k_left : 16), row)));
        } else if (p.wtype == DType::BF16) {
          r[i] = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(
                                       mask16(k_left < 16 ? k_left : 16), row)),
                                   16);
        } else {
          r[i] = _mm512_maskz_loadu_epi32(mask16(k_left < 16 ? k_left : 16), row);
        }
      }
      transpose16(r);
      const int64_t n_steps = steps - s < 16 ? steps - s : 16;
      for (int64_t j = 0; j < n_steps; ++j) _mm512_store_si512(panel + (s + j) * kNr, r[j]);
    }
  }
}

// X k-major (x_trans: X[m, k] at x[k * ldx + m]) -> bf16 rows as convert_x_bf16 makes them, in
// blocks of 16 rows by 32 k: 16 vectors of k pairs over m, transposed.
void convert_x_bf16_trans(const float* x, int64_t ldx, int64_t M, int64_t K, uint16_t* xb,
                          int64_t ldb) {
  for (int64_t m0 = 0; m0 < M; m0 += 16) {
    const int64_t rows = M - m0 < 16 ? M - m0 : 16;
    const __mmask16 mm = mask16(rows);
    for (int64_t k0 = 0; k0 < ldb; k0 += 32) {
      __m512i r[16];
      for (int t = 0; t < 16; ++t) {
        const int64_t k = k0 + 2 * t;
        const __m512 a = k < K ? _mm512_maskz_loadu_ps(mm, x + k * ldx + m0) : _mm512_setzero_ps();
        const __m512 b =
            k + 1 < K ? _mm512_maskz_loadu_ps(mm, x + (k + 1) * ldx + m0) : _mm512_setzero_ps();
        r[t] = bf16_pairs(a, b);
      }
      transpose16(r);
      for (int64_t i = 0; i < rows; ++i) _mm512_storeu_si512(xb + (m0 + i) * ldb + k0, r[i]);
    }
  }
}

// Starts fetching the Y tile the micro-kernel will read and write at its end: Y (M x N) is far
// larger than the caches, and its misses would be exposed after the k loop (measured +3-5% for
// f32 at M = 512, within noise for bf16).
template <int MR>
void prefetch_y(const float* y, int64_t ldy) {
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) {
    const char* row = reinterpret_cast<const char*>(y + m * ldy);
    _mm_prefetch(row, _MM_HINT_T0);
    _mm_prefetch(row + 64, _MM_HINT_T0);
    _mm_prefetch(row + 127, _MM_HINT_T0);  // the tile's 128 bytes may touch a third line
  }
}

// Y[0 : MR, 0 : nr] (+)= X rows (f32, stride ldx; XT: k-major, X[m, k] at x[k * ldx + m]) .
// f32 panel [kc][32].
template <int MR, bool XT>
void micro_f32(const float* x, int64_t ldx, const float* panel, int64_t kc, float* y, int64_t ldy,
               int64_t nr, bool accumulate) {
  prefetch_y<MR>(y, ldy);
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) c0[m] = c1[m] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(panel + k * kNr), b1 = _mm512_load_ps(panel + k * kNr + 16);
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) {
      const __m512 a = _mm512_set1_ps(XT ? x[k * ldx + m] : x[m * ldx + k]);
      c0[m] = _mm512_fmadd_ps(a, b0, c0[m]);
      c1[m] = _mm512_fmadd_ps(a, b1, c1[m]);
    }
  }
  const __mmask16 k0 = mask16(nr < 16 ? nr : 16), k1 = mask16(nr > 16 ? nr - 16 : 0);
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) {
    float* row = y + m * ldy;
    if (accumulate) {
      c0[m] = _mm512_add_ps(c0[m], _mm512_maskz_loadu_ps(k0, row));
      c1[m] = _mm512_add_ps(c1[m], _mm512_maskz_loadu_ps(k1, row + 16));
    }
    _mm512_mask_storeu_ps(row, k0, c0[m]);
    _mm512_mask_storeu_ps(row + 16, k1, c1[m]);
  }
}

// Y[0 : MR, 0 : nr] (+)= X rows (bf16, stride ldb elements, k pairs) . bf16 pair panel.
template <int MR>
void micro_bf16(const uint16_t* xb, int64_t ldb, const uint32_t* panel, int64_t steps, float* y,
                int64_t ldy, int64_t nr, bool accumulate) {
  prefetch_y<MR>(y, ldy);
  __m512 c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) c0[m] = c1[m] = _mm512_setzero_ps();
  for (int64_t s = 0; s < steps; ++s) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(panel + s * kNr);
    const __m512bh b1 = (__m512bh)_mm512_load_si512(panel + s * kNr + 16);
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) {
      int32_t pair;
      std::memcpy(&pair, xb + m * ldb + 2 * s, 4);
      const __m512bh a = (__m512bh)_mm512_set1_epi32(pair);
      c0[m] = _mm512_dpbf16_ps(c0[m], a, b0);
      c1[m] = _mm512_dpbf16_ps(c1[m], a, b1);
    }
  }
  const __mmask16 k0 = mask16(nr < 16 ? nr : 16), k1 = mask16(nr > 16 ? nr - 16 : 0);
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) {
    float* row = y + m * ldy;
    if (accumulate) {
      c0[m] = _mm512_add_ps(c0[m], _mm512_maskz_loadu_ps(k0, row));
      c1[m] = _mm512_add_ps(c1[m], _mm512_maskz_loadu_ps(k1, row + 16));
    }
    _mm512_mask_storeu_ps(row, k0, c0[m]);
    _mm512_mask_storeu_ps(row + 16, k1, c1[m]);
  }
}

// One micro-tile of mr (<= kMr) rows; x points at row m0, column k0 (bf16: xb likewise).
void micro_tile(bool bf16, bool xt, int64_t mr, const float* x, int64_t ldx, const uint16_t* xb,
                int64_t ldb, const uint32_t* panel, int64_t kc, float* y, int64_t ldy, int64_t nr,
                bool acc) {
  const float* pf = reinterpret_cast<const float*>(panel);
  const int64_t steps = (kc + 1) / 2;
#define R1_TILE(MR)                                           \
  case MR:                                                    \
    if (bf16) {                                               \
      micro_bf16<MR>(xb, ldb, panel, steps, y, ldy, nr, acc); \
    } else if (xt) {                                          \
      micro_f32<MR, true>(x, ldx, pf, kc, y, ldy, nr, acc);   \
    } else {                                                  \
      micro_f32<MR, false>(x, ldx, pf, kc, y, ldy, nr, acc);  \
    }                                                         \
    break;
  switch (mr) {
    R1_TILE(1)
    R1_TILE(2)
    R1_TILE(3)
    R1_TILE(4)
    R1_TILE(5)
    R1_TILE(6)
    R1_TILE(7)
    R1_TILE(8)
    default:
      break;
  }
#undef R1_TILE
}

void gemm_packed(const GemmParams& p) {
  const bool bf16 = bf16_panels(p);
  const int64_t kc_max = bf16 ? kKcBf16 : kKcF32;
  uint32_t* wp = static_cast<uint32_t*>(scratch(kScratchW, kNc * kc_max * 4));
  const int64_t ldb = p.xb ? p.ldxb : round_up(p.K, 32);
  for (int64_t mc = 0; mc < p.M; mc += kMc) {
    const int64_t m_count = p.M - mc < kMc ? p.M - mc : kMc;
    const float* x = p.x + (p.x_trans ? mc : mc * p.ldx);
    const uint16_t* xb = nullptr;
    if (bf16 && p.xb) {
      xb = p.xb + mc * ldb;
    } else if (bf16) {
      uint16_t* conv = static_cast<uint16_t*>(scratch(kScratchX, m_count * ldb * 2));
      x_to_bf16(x, p.ldx, p.x_trans, m_count, p.K, conv, ldb);
      xb = conv;
    }
    float* y_chunk = p.y + mc * p.ldy;
    for (int64_t n0 = p.n_begin; n0 < p.n_end; n0 += kNc) {
      const int64_t rows = p.n_end - n0 < kNc ? p.n_end - n0 : kNc;
      for (int64_t k0 = 0; k0 < p.K; k0 += kc_max) {
        const int64_t kc = p.K - k0 < kc_max ? p.K - k0 : kc_max;
        pack_w(p, n0, rows, k0, kc, wp);
        const int64_t panel_stride = (bf16 ? (kc + 1) / 2 : kc) * kNr;
        for (int64_t m0 = 0; m0 < m_count; m0 += kMr) {
          const int64_t mr = m_count - m0 < kMr ? m_count - m0 : kMr;
          for (int64_t j = 0; j < rows; j += kNr) {
            const int64_t nr = rows - j < kNr ? rows - j : kNr;
            const float* xt = p.x_trans ? x + k0 * p.ldx + m0 : x + m0 * p.ldx + k0;
            micro_tile(bf16, p.x_trans, mr, xt, p.ldx, bf16 ? xb + m0 * ldb + k0 : nullptr, ldb,
                       wp + (j / kNr) * panel_stride, kc, y_chunk + m0 * p.ldy + n0 + j, p.ldy, nr,
                       k0 > 0 || p.accumulate);
          }
        }
      }
    }
  }
}

// Which path: measured on Zen 4 (K=1536/N=8960 and K=8960/N=1536, W from memory), the dot tiles
// match or beat the packed path while X stays in L2 (packing W costs a pass over it at ~10 GB/s):
// up to M = 128 at K = 1536; the packed path wins once X outgrows L2 (M >= 96 at K = 8960: f32
// 91 vs 76 GFLOP/s) and at M >= 256 in any case (M = 512: 89 vs 65 f32, 175 vs 142 bf16).
bool use_packed(const GemmParams& p) {
  const int64_t x_bytes = p.M * p.K * (p.wtype == DType::BF16 && p.bf16_dot ? 2 : 4);
  return p.M >= 256 || (p.M >= 96 && x_bytes > (1 << 20));
}

// The packed path is the only one that reads operands k-major, adds into Y, or rounds f32 W to
// bf16 (bf16_dot).
bool packed_only(const GemmParams& p) {
  return p.x_trans || p.w_trans || p.accumulate || (p.wtype == DType::F32 && p.bf16_dot);
}

}  // namespace

void gemm_q8_0_f32(const GemmParams& p) {
  // K > 0 and whole 32-blocks: the caller's checks (gemm_q8_0)
  if (!gemm_empty(p)) gemm_packed(p);
}

void gemm_fp8_packed(const GemmParams& p) {
  if (!gemm_empty(p)) gemm_packed(p);
}

void gemm_blocks_bf16(const GemmParams& p) {
  if (gemm_empty(p)) return;
  const DType t = p.wtype;
  if (p.K % (is_packed_type(t) ? packed_unit(t) : dtype_block(t)) != 0 ||
      (is_packed_type(t) && (p.n_begin % kPackRows != 0 || p.n_end % kPackRows != 0)))
    fail_internal("gemm: ", dtype_name(t), " K=", p.K, " columns [", p.n_begin, ", ", p.n_end, ")");
  gemm_packed(p);
}

void gemm_small_m(const GemmParams& p) {
  if (gemm_trivial(p)) return;
  if (packed_only(p)) return gemm_packed(p);
  gemm_dot(p);
}
void gemm_large_m(const GemmParams& p) {
  if (!gemm_trivial(p)) gemm_packed(p);
}

void gemm(const GemmParams& p) {
  if (gemm_trivial(p)) return;
  if (use_packed(p) || packed_only(p)) {
    gemm_packed(p);
  } else {
    gemm_dot(p);
  }
}

void x_to_bf16(const float* x, int64_t ldx, bool x_trans, int64_t M, int64_t K, uint16_t* xb,
               int64_t ldb) {
  if (x_trans) {
    convert_x_bf16_trans(x, ldx, M, K, xb, ldb);
  } else {
    convert_x_bf16(x, ldx, M, K, xb, ldb);
  }
}

}  // namespace r1::kernels::avx512
