// What the CPU this process runs on can execute, detected once with cpuid and xgetbv. An ISA
// counts as present only when the CPU has the instructions AND the OS saves the register state
// they use (xgetbv XCR0: ymm for AVX2, zmm and opmask for AVX-512). This header is free of
// intrinsics so every layer may include it.
#pragma once

#include <string>

namespace r1 {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;                                // need OS ymm state
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;  // need zmm state
  bool avx512bf16 = false, avx512vnni = false;
  bool avx512vbmi = false, gfni = false;  // gfni: with zmm state (its AVX-512 form)
  bool avx_vnni = false;                  // AVX-VNNI: vpdpbusd on VEX ymm (needs ymm state)
  bool os_ymm = false, os_zmm = false;    // XCR0 bits enabled by the OS
  bool amd = false;                       // vendor AuthenticAMD

  // Everything kernels/cpu/*_avx2.cc is compiled for (-mavx2 -mfma -mf16c).
  bool has_avx2_set() const { return avx2 && fma && f16c; }
  // Everything kernels/cpu/*_avx512.cc is compiled for.
  bool has_avx512_set() const {
    return has_avx2_set() && avx512f && avx512bw && avx512vl && avx512dq && avx512bf16 &&
           avx512vnni;
  }
  // Whether bf16 dot products (vdpbf16ps) outrun f32 FMA on widened bf16, which decides the
  // default for bf16 weights (ops::set_fast_bf16): on AMD Zen 4 / 5 they do (prefill of a
  // 1.5B-shaped bf16 model 1.57x the exact path, bench/README.md); on Intel Sapphire / Emerald
  // Rapids vdpbf16ps zmm runs at half the FMA rate (kernels_bench: peak 74 against 144 GFLOP/s,
  // the 1536 x 8960 GEMM at M = 512 78 against 142), so there the exact path is also the fast one.
  bool bf16_dot_fast() const { return avx512bf16 && amd; }
  // What the AVX-512 fused fp8 kernel's Fp8Widen::Subnormal route at one X row uses on top of
  // the AVX-512 set (byte permutes, GF(2) affine maps): every AMD CPU with AVX-512 has it.
  bool has_avx512_fp8_sub() const { return has_avx512_set() && avx512vbmi && gfni; }
  // What the AVX-512 fp8 kernel with bf16 dot products uses on top of the AVX-512 set (byte
  // permutes; Intel since Ice Lake / Sapphire Rapids, every AMD CPU with AVX-512).
  bool has_avx512_fp8_bf16() const { return has_avx512_set() && avx512vbmi; }
  // What kernels/cpu/*_avxvnni.cc is compiled for: the AVX2 set and AVX-VNNI (Intel since Alder
  // Lake and Sapphire Rapids, AMD since Zen 5), whose int8 dot products the AVX2 table's
  // quantized GEMMs then use.
  bool has_avx_vnni_set() const { return has_avx2_set() && avx_vnni; }
  std::string describe() const;  // "avx2 fma f16c avx512f ..." (present features only)
};

// Detected on first call; thread-safe.
const CpuFeatures& cpu_features();

}  // namespace r1
