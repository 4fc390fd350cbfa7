// Helpers shared by the kernel tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"

namespace r1::kernels::testing {

inline const Isa kSimdIsas[] = {Isa::Avx2, Isa::Avx512};

// The tables to test the int8 GEMMs of, among those this CPU runs: the scalar reference (with
// `scalar`), AVX2 once per int8 variant (dispatch.h: vpmaddubsw, AVX-VNNI's vpdpbusd, the same in
// its EVEX form), AVX-512. Run each under an Avx2Int8Scope (for AVX2: its variant).
struct Int8Target {
  Isa isa;
  Avx2Int8 avx2;
  std::string name;
};
inline std::vector<Int8Target> int8_targets(bool scalar) {
  std::vector<Int8Target> t;
  if (scalar) t.push_back({Isa::Scalar, Avx2Int8::MaddUbs, "scalar"});
  if (isa_supported(Isa::Avx2))
    for (Avx2Int8 v : kAvx2Int8Variants)
      if (avx2_int8_supported(v))
        t.push_back({Isa::Avx2, v, std::string("avx2 ") + avx2_int8_name(v)});
  if (isa_supported(Isa::Avx512)) t.push_back({Isa::Avx512, Avx2Int8::MaddUbs, "avx512"});
  return t;
}
struct Avx2Int8Scope {
  explicit Avx2Int8Scope(const Int8Target& t) {
    if (t.isa == Isa::Avx2) set_avx2_int8(t.avx2);
  }
  ~Avx2Int8Scope() { reset_avx2_int8(); }
};

// Skips the current test (with the reason) when this CPU cannot run `isa`.
#define R1_REQUIRE_ISA(isa)                                                                \
  do {                                                                                     \
    if (!::r1::kernels::isa_supported(isa))                                                \
      GTEST_SKIP() << "this CPU lacks " << ::r1::kernels::isa_name(isa) << "; not tested"; \
  } while (0)

inline std::vector<float> random_floats(int64_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

// Values of `f` stored as dtype t (f32, bf16 or f16) as raw bytes.
inline std::vector<uint8_t> encode(const std::vector<float>& f, DType t) {
  std::vector<uint8_t> out(f.size() * dtype_size(t));
  for (size_t i = 0; i < f.size(); ++i) {
    if (t == DType::F32) {
      std::memcpy(out.data() + 4 * i, &f[i], 4);
    } else {
      uint16_t h = t == DType::BF16 ? f32_to_bf16(f[i]) : f32_to_f16(f[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

// Y[:, n_begin:n_end] = X . W^T with W of type wtype (p.y and the type's extras left to the
// caller).
inline GemmParams gemm_params(int64_t M, int64_t K, int64_t n_begin, int64_t n_end, const float* x,
                              int64_t ldx, const void* w, int64_t ldw, DType wtype, int64_t ldy) {
  GemmParams p;
  p.M = M;
  p.K = K;
  p.n_begin = n_begin;
  p.n_end = n_end;
  p.x = x;
  p.ldx = ldx;
  p.w = w;
  p.ldw = ldw;
  p.wtype = wtype;
  p.ldy = ldy;
  return p;
}

}  // namespace r1::kernels::testing
