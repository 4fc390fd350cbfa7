#include "kernels/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/quant_pack.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/gemm_fp8.h"
#include "kernels/ref/ref.h"

namespace r1::kernels {

namespace {

// Each ISA's GEMM entry: fp8 weights go through gemm_fp8 (its fused kernel for small M and its
// packed-panel kernel for larger M where the ISA has them, else widened panels for the ISA's f32
// GEMM), or with bf16_dot to FB (the ISA's bf16 kernel, else the reference); Q8_0 weights to the
// ISA's int8 GEMM;
// the packed layouts (core/quant_pack.h) to its interleaved GEMM; the other block types to its
// 4-6-bit GEMM; block types with bf16_dot to its bf16 panels (the reference where the ISA has no
// bf16 dot products); everything else to the ISA's GEMM.
template <GemmFn G, ToF32Fn T, GemmFn F, GemmFn FP, GemmFn FB, GemmFn Q, GemmFn KQ, GemmFn R8,
          GemmFn BQ>
void gemm_entry(const GemmParams& p) {
  if (p.bf16_dot && is_block_type(p.wtype)) {
    BQ(p);
  } else if (p.wtype == DType::Q8_0) {
    Q(p);
  } else if (is_packed_type(p.wtype)) {
    R8(p);
  } else if (is_block_type(p.wtype)) {
    KQ(p);
  } else if (p.wtype == DType::F8_E4M3 && p.bf16_dot) {
    FB(p);
  } else if (p.wtype == DType::F8_E4M3) {
    gemm_fp8(p, G, T, F, FP);
  } else {
    G(p);
  }
}

#define R1_TABLE(ns, isa, fused, fp8_packed, fp8_bf16, q8, kq, r8, bq)                           \
  KernelTable {                                                                                  \
    isa, gemm_entry<ns::gemm, ns::to_f32, fused, fp8_packed, fp8_bf16, q8, kq, r8, bq>, ns::dot, \
        ns::axpy, ns::rms_norm, ns::silu_mul, ns::silu_mul_grad, ns::softmax, ns::exp_sum,       \
        ns::to_f32, ns::add, ns::sum_streams, ns::quantize_x_q8, ns::x_to_bf16, ns::attn_scores, \
        ns::attn_values                                                                          \
  }

// fp8 W with bf16_dot on AVX-512: kFp8Bf16PanelMinM rows or more through bf16 panels; fewer
// through its fused kernel where the CPU has the byte permutes it needs.
void avx512_fp8_bf16(const GemmParams& p) {
  if (p.M >= kFp8Bf16PanelMinM) return avx512::gemm_fp8_packed(p);
  if (cpu_features().has_avx512_fp8_bf16()) return avx512::gemm_fp8_bf16(p);
  ref::gemm(p);
}

// -1: the CPU's default; else an Avx2Int8.
std::atomic<int> g_avx2_int8{-1};

// The AVX2 table's int8 GEMMs, by avx2_int8().
template <GemmFn kMaddUbs, GemmFn kAvxVnni, GemmFn kEvex>
void avx2_int8_gemm(const GemmParams& p) {
  switch (avx2_int8()) {
    case Avx2Int8::AvxVnni:
      return kAvxVnni(p);
    case Avx2Int8::Vnni256Evex:
      return kEvex(p);
    case Avx2Int8::MaddUbs:
      break;
  }
  kMaddUbs(p);
}
constexpr GemmFn kAvx2Q8 =
    avx2_int8_gemm<avx2::gemm_q8_0, avxvnni::gemm_q8_0, avxvnni_evex::gemm_q8_0>;
constexpr GemmFn kAvx2Kq = avx2_int8_gemm<avx2::gemm_kq, avxvnni::gemm_kq, avxvnni_evex::gemm_kq>;
constexpr GemmFn kAvx2R8 = avx2_int8_gemm<avx2::gemm_r8, avxvnni::gemm_r8, avxvnni_evex::gemm_r8>;

const KernelTable kScalarTable = R1_TABLE(ref, Isa::Scalar, nullptr, nullptr, ref::gemm, ref::gemm,
                                          ref::gemm, ref::gemm, ref::gemm);
const KernelTable kAvx2Table = R1_TABLE(avx2, Isa::Avx2, avx2::gemm_fp8_small_m, nullptr, ref::gemm,
                                        kAvx2Q8, kAvx2Kq, kAvx2R8, ref::gemm);
const KernelTable kAvx512Table = R1_TABLE(
    avx512, Isa::Avx512, avx512::gemm_fp8_small_m, avx512::gemm_fp8_packed, avx512_fp8_bf16,
    avx512::gemm_q8_0, avx512::gemm_kq, avx512::gemm_r8, avx512::gemm_blocks_bf16);

#undef R1_TABLE

const KernelTable& table_of(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return kScalarTable;
    case Isa::Avx2:
      return kAvx2Table;
    case Isa::Avx512:
      return kAvx512Table;
  }
  return kScalarTable;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return f.has_avx2_set();
    case Isa::Avx512:
      return f.has_avx512_set();
  }
  return false;
}

Isa select_isa(const char* cap) {
  Isa limit = Isa::Avx512;
  if (cap != nullptr && *cap != '\0') {
    if (std::strcmp(cap, "scalar") == 0) {
      limit = Isa::Scalar;
    } else if (std::strcmp(cap, "avx2") == 0) {
      limit = Isa::Avx2;
    } else if (std::strcmp(cap, "avx512") == 0) {
      limit = Isa::Avx512;
    } else {
      fail_usage("R1_ISA=", cap,
                 " is not an instruction set r1 knows (use scalar, avx2 or avx512)");
    }
  }
  for (Isa isa : {Isa::Avx512, Isa::Avx2}) {
    if (static_cast<int>(isa) <= static_cast<int>(limit) && isa_supported(isa)) return isa;
  }
  return Isa::Scalar;
}

Avx2Int8 avx2_int8_from_env(const char* value) {
  const Avx2Int8 cpu = cpu_features().has_avx_vnni_set() ? Avx2Int8::AvxVnni : Avx2Int8::MaddUbs;
  if (value == nullptr || *value == '\0') return cpu;
  for (Avx2Int8 v : kAvx2Int8Variants) {
    if (std::strcmp(value, avx2_int8_name(v)) != 0) continue;
    if (!avx2_int8_supported(v)) fail_usage("R1_AVX2_INT8=", value, ": this CPU cannot run it");
    return v;
  }
  fail_usage("R1_AVX2_INT8=", value,
             " is not a choice of int8 dot products r1 knows (use maddubs, avxvnni or vnni256)");
}

Avx2Int8 avx2_int8() {
  const int v = g_avx2_int8.load(std::memory_order_relaxed);
  if (v >= 0) return static_cast<Avx2Int8>(v);
  static const Avx2Int8 chosen = avx2_int8_from_env(std::getenv("R1_AVX2_INT8"));
  return chosen;
}

bool avx2_int8_supported(Avx2Int8 v) {
  const CpuFeatures& f = cpu_features();
  switch (v) {
    case Avx2Int8::MaddUbs:
      return f.has_avx2_set();
    case Avx2Int8::AvxVnni:
      return f.has_avx_vnni_set();
    case Avx2Int8::Vnni256Evex:
      return f.has_avx512_set();  // AVX-512 VNNI and VL among it
  }
  return false;
}

void set_avx2_int8(Avx2Int8 v) {
  if (!avx2_int8_supported(v))
    fail_internal("this CPU cannot run the AVX2 table's ", avx2_int8_name(v), " int8 kernels");
  g_avx2_int8.store(static_cast<int>(v), std::memory_order_relaxed);
}

void reset_avx2_int8() {
  g_avx2_int8.store(-1, std::memory_order_relaxed);
}

const char* avx2_int8_name(Avx2Int8 v) {
  switch (v) {
    case Avx2Int8::MaddUbs:
      return "maddubs";
    case Avx2Int8::AvxVnni:
      return "avxvnni";
    case Avx2Int8::Vnni256Evex:
      return "vnni256";
  }
  return "?";
}

const KernelTable& kernels() {
  // R1_AVX2_INT8 is read here too, on the thread that first asks for the kernels, so that a bad
  // value is its Usage error rather than one raised inside a GEMM on a pool thread.
  static const KernelTable& chosen = (avx2_int8(), table_of(select_isa(std::getenv("R1_ISA"))));
  return chosen;
}

const KernelTable& kernels_for(Isa isa) {
  if (!isa_supported(isa))
    fail_internal("this CPU does not support the ", isa_name(isa), " kernels");
  return table_of(isa);
}

}  // namespace r1::kernels
