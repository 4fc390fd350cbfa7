// The ISA choice (R1_ISA cap) and the CPU feature detection it rests on.
#include <cstdlib>
#include <string>

#include "core/cpu_features.h"
#include "core/error.h"
#include "kernels/dispatch.h"
#include "test_util.h"

namespace r1::kernels {
namespace {

Isa best_supported() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

TEST(Dispatch, CapChoosesTheBestAllowedIsa) {
  EXPECT_EQ(select_isa(nullptr), best_supported());
  EXPECT_EQ(select_isa(""), best_supported());
  EXPECT_EQ(select_isa("avx512"), best_supported());
  EXPECT_EQ(select_isa("scalar"), Isa::Scalar);
  EXPECT_EQ(select_isa("avx2"), isa_supported(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar);
}

TEST(Dispatch, UnknownCapIsAUsageErrorNamingTheValue) {
  try {
    select_isa("sse9");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find("R1_ISA=sse9"), std::string::npos) << e.what();
  }
}

TEST(Dispatch, ChosenTableFollowsTheEnvironment) {
  const char* env = std::getenv("R1_ISA");
  bool valid = true;
  try {
    select_isa(env);
  } catch (const Error&) {
    valid = false;
  }
  if (!valid) {
    EXPECT_THROW(kernels(), Error);
    return;
  }
  const KernelTable& k = kernels();
  EXPECT_EQ(k.isa, select_isa(std::getenv("R1_ISA")));
  EXPECT_EQ(&k, &kernels());  // chosen once
  EXPECT_EQ(&kernels_for(k.isa), &k);
}

// For a death test's fresh process: exits 3 where kernels() raises a Usage error, 4 for another
// error, 5 where it raises none.
[[noreturn]] void exit_by_kernels_error() {
  try {
    kernels();
  } catch (const Error& e) {
    std::exit(e.kind() == ErrorKind::Usage ? 3 : 4);
  }
  std::exit(5);
}

// kernels() chooses once per process, so each R1_ISA value is tried in a fresh process (the
// threadsafe death-test style re-executes this binary for the statement).
TEST(DispatchDeathTest, EnvironmentCapsTheChoiceInAFreshProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("R1_ISA", "scalar", 1);
        std::exit(kernels().isa == Isa::Scalar ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  const Isa capped_avx2 = isa_supported(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
  EXPECT_EXIT(
      {
        setenv("R1_ISA", "avx2", 1);
        std::exit(kernels().isa == capped_avx2 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        setenv("R1_ISA", "sse9", 1);
        exit_by_kernels_error();
      },
      ::testing::ExitedWithCode(3), "");
}

TEST(Dispatch, TablesAreCompleteAndUnsupportedIsasFail) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) {
      EXPECT_THROW(kernels_for(isa), Error) << isa_name(isa);
      continue;
    }
    const KernelTable& k = kernels_for(isa);
    EXPECT_EQ(k.isa, isa);
    EXPECT_TRUE(k.gemm && k.dot && k.axpy && k.rms_norm && k.silu_mul && k.silu_mul_grad &&
                k.softmax && k.exp_sum && k.x_to_bf16 && k.to_f32 && k.add)
        << isa_name(isa);
  }
  EXPECT_STREQ(isa_name(Isa::Scalar), "scalar");
  EXPECT_STREQ(isa_name(Isa::Avx2), "avx2");
  EXPECT_STREQ(isa_name(Isa::Avx512), "avx512");
}

// The AVX2 table's int8 dot products: AVX-VNNI's by default where the CPU has it, vpmaddubsw
// elsewhere; a variant the CPU lacks is refused, and reset gives the default back.
TEST(Dispatch, Avx2Int8VariantFollowsTheCpu) {
  const CpuFeatures& f = cpu_features();
  if (!f.has_avx2_set()) GTEST_SKIP() << "no AVX2";
  const Avx2Int8 def = f.avx_vnni ? Avx2Int8::AvxVnni : Avx2Int8::MaddUbs;
  EXPECT_EQ(avx2_int8(), def);
  EXPECT_TRUE(avx2_int8_supported(Avx2Int8::MaddUbs));
  EXPECT_EQ(avx2_int8_supported(Avx2Int8::AvxVnni), f.avx_vnni);
  EXPECT_EQ(avx2_int8_supported(Avx2Int8::Vnni256Evex), f.has_avx512_set());
  for (Avx2Int8 v : kAvx2Int8Variants) {
    if (avx2_int8_supported(v)) {
      set_avx2_int8(v);
      EXPECT_EQ(avx2_int8(), v);
    } else {
      EXPECT_THROW(set_avx2_int8(v), Error) << avx2_int8_name(v);
      EXPECT_NE(avx2_int8(), v);
    }
  }
  reset_avx2_int8();
  EXPECT_EQ(avx2_int8_from_env(nullptr), def);
  EXPECT_EQ(avx2_int8_from_env(""), def);
  EXPECT_EQ(avx2_int8_from_env("maddubs"), Avx2Int8::MaddUbs);
  for (const char* bad : {"vnni", "MADDUBS", "avx512"}) {
    try {
      avx2_int8_from_env(bad);
      ADD_FAILURE() << "R1_AVX2_INT8=" << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Usage);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
  if (f.avx_vnni) {
    EXPECT_EQ(avx2_int8_from_env("avxvnni"), Avx2Int8::AvxVnni);
  } else {
    EXPECT_THROW(avx2_int8_from_env("avxvnni"), Error);
  }
}

// R1_AVX2_INT8 chooses the AVX2 table's int8 products once per process (a fresh one here).
TEST(DispatchDeathTest, EnvironmentChoosesTheAvx2Int8Products) {
  if (!cpu_features().has_avx2_set()) GTEST_SKIP() << "no AVX2";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("R1_AVX2_INT8", "maddubs", 1);
        kernels();
        std::exit(avx2_int8() == Avx2Int8::MaddUbs ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        setenv("R1_AVX2_INT8", "sse9", 1);
        exit_by_kernels_error();
      },
      ::testing::ExitedWithCode(3), "");
}

TEST(CpuFeatures, ConsistentAndAgreesWithTheCompiler) {
  const CpuFeatures& f = cpu_features();
  RecordProperty("cpu_features", f.describe());
  if (f.has_avx512_set()) {
    EXPECT_TRUE(f.has_avx2_set());
    EXPECT_TRUE(f.os_zmm);
  }
  if (f.has_avx2_set()) {
    EXPECT_TRUE(f.os_ymm);
  }
  if (f.os_zmm) {
    EXPECT_TRUE(f.os_ymm);
  }
  // GCC's own detection (libgcc, which also checks the OS state) as an independent witness.
  EXPECT_EQ(f.avx2, static_cast<bool>(__builtin_cpu_supports("avx2")));
  EXPECT_EQ(f.fma, static_cast<bool>(__builtin_cpu_supports("fma")));
  EXPECT_EQ(f.avx512f, static_cast<bool>(__builtin_cpu_supports("avx512f")));
  EXPECT_EQ(f.avx512bw, static_cast<bool>(__builtin_cpu_supports("avx512bw")));
  EXPECT_EQ(f.avx512vl, static_cast<bool>(__builtin_cpu_supports("avx512vl")));
  EXPECT_EQ(f.avx512dq, static_cast<bool>(__builtin_cpu_supports("avx512dq")));
  EXPECT_EQ(f.avx512vnni, static_cast<bool>(__builtin_cpu_supports("avx512vnni")));
  EXPECT_EQ(f.avx512bf16, static_cast<bool>(__builtin_cpu_supports("avx512bf16")));
  EXPECT_EQ(f.avx512vbmi, static_cast<bool>(__builtin_cpu_supports("avx512vbmi")));
  if (f.os_zmm) {  // r1 counts GFNI only with zmm state (its AVX-512 form)
    EXPECT_EQ(f.gfni, static_cast<bool>(__builtin_cpu_supports("gfni")));
  }
  EXPECT_EQ(f.avx_vnni, static_cast<bool>(__builtin_cpu_supports("avxvnni")));
  EXPECT_EQ(f.amd, static_cast<bool>(__builtin_cpu_is("amd")));
  EXPECT_EQ(isa_supported(Isa::Avx2), f.has_avx2_set());
  EXPECT_EQ(isa_supported(Isa::Avx512), f.has_avx512_set());
  EXPECT_TRUE(isa_supported(Isa::Scalar));
}

}  // namespace
}  // namespace r1::kernels
