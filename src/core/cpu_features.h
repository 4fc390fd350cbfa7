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
  bool os_ymm = false, os_zmm = false;  // XCR0 bits enabled by the OS

  // Everything kernels/cpu/*_avx2.cc is compiled for (-mavx2 -mfma -mf16c).
  bool has_avx2_set() const { return avx2 && fma && f16c; }
  // Everything kernels/cpu/*_avx512.cc is compiled for.
  bool has_avx512_set() const {
    return has_avx2_set() && avx512f && avx512bw && avx512vl && avx512dq && avx512bf16 &&
           avx512vnni;
  }
  std::string describe() const;  // "avx2 fma f16c avx512f ..." (present features only)
};

// Detected on first call; thread-safe.
const CpuFeatures& cpu_features();

}  // namespace r1
