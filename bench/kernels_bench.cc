// GEMM micro-benchmark: GFLOP/s of every ISA and weight dtype against the scalar reference,
// single thread, for the FFN shapes of the small R1 distills (Qwen2 0.5B: K=896, N=4864;
// 1.5B: K=1536, N=8960). Decode (small M) also reports GB/s of W streamed; W is cycled through
// enough copies (>= 256 MB) that it comes from memory, not the L3 (--hot 1: one copy, so the
// caches serve it and the figure is the kernel's compute-bound limit).
//
//   kernels_bench [--m 1,4,16,128,512] [--dtype f32,bf16,f16,...] [--isa scalar,avx2,avx512]
//                 [--shape 0,1] [--min-time 0.3] [--hot 0|1] [--fp8-widen f16,subnormal]
//                 [--offset 0..63] [--avx2-int8 maddubs|avxvnni|vnni256]
//
// dtypes: f32, bf16, bf16dot, f16, q8_0, q4_k, q6_k, q4_k_r8, q6_k_r8, q4_0_r8, q5_0_r8, q8_0_r8,
// f8_e4m3 (codes as DeepSeek's checkpoints have them, 128 x 128 scale blocks); a block type with
// "+bf16" (q4_k_r8+bf16) multiplies through bf16 panels (GemmParams::bf16_dot). Shapes (K x N): 0
// 896 x 4864, 1 1536 x 8960, 2 8960 x 1536, 3 1536 x 151936 (the 1.5B's lm_head), 4 7168 x 2048 (a
// DeepSeek-V3 expert's gate / up). --fp8-widen runs f8_e4m3 once per way of widening it
// (kernels/gemm_fp8.h: Fp8Widen; by default only the CPU's choice), interleaved per ISA.
// --avx2-int8 picks the int8 dot products of the AVX2 table's quantized GEMMs (kernels/dispatch.h;
// vnni256: the AVX-VNNI kernels through AVX-512 VNNI's EVEX instruction).
//
// Each figure is the median over the calls made in --min-time seconds of thread CPU time (at
// least 3 calls). The scalar reference computes only as many output columns as keep one call
// near 0.1 GFLOP. The first line gives the core's FMA / vdpbf16ps peak and its read bandwidth as
// 4 streams and as one: the limits to read the GEMM figures against.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <immintrin.h>

#include "core/dtype.h"
#include "core/quant.h"
#include "core/quant_pack.h"
#include "core/tensor.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_fp8.h"
#include "kernels/kernels.h"

using namespace r1;
using namespace r1::kernels;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

// CPU time of this thread: on a shared machine wall time also counts the time other processes
// hold the core, which says nothing about the kernel (on an idle machine the two agree).
double now_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The core's arithmetic peak, to read the GEMM figures against: 12 independent chains of FMA
// (or vdpbf16ps) on registers, GFLOP/s over 0.1 s of CPU time. Function-level target attributes
// keep these out of the rest of the program (called only when the CPU has the ISA).
__attribute__((target("avx2,fma"), noinline)) double peak_avx2_fma() {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-4f);
  const long iters = 2000000;
  const double t0 = now_s();
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
  }
  const double t = now_s() - t0;
  volatile float sink = 0;
  for (int i = 0; i < 12; ++i) sink = sink + acc[i][0];
  return 12.0 * 16 * static_cast<double>(iters) / t * 1e-9;
}

// One core's read bandwidth from memory, to read the decode GB/s against: 256 MiB allocated as
// weights are, read with the best kernels' vectors (KernelTable::sum_streams, as r1 bench's probe)
// as `streams` sequential streams side by side (4: the decode tiles' pattern), best of 3.
double stream_read_gbs(int streams) {
  const int64_t n = (int64_t{256} << 20) / 4, len = n / streams;
  const Tensor buf = Tensor::empty(DType::F32, {n});
  const float* a = static_cast<const float*>(buf.data);
  std::fill(static_cast<float*>(buf.data), static_cast<float*>(buf.data) + n, 1.0f);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const double t0 = now_s();
    volatile float sink = r1::kernels::kernels().sum_streams(a, len, len, streams);
    (void)sink;
    best = std::max(best, static_cast<double>(len * streams) * 4 / (now_s() - t0) * 1e-9);
  }
  return best;
}

__attribute__((target("avx512f,avx512bf16"), noinline)) double peak_avx512(bool bf16) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-4f);
  const __m512bh one = (__m512bh)_mm512_set1_epi16(0x3f80);
  const long iters = 2000000;
  const double t0 = now_s();
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i)
      acc[i] = bf16 ? _mm512_dpbf16_ps(acc[i], one, one) : _mm512_fmadd_ps(acc[i], b, c);
  }
  const double t = now_s() - t0;
  volatile float sink = 0;
  for (int i = 0; i < 12; ++i) sink = sink + acc[i][0];
  return 12.0 * (bf16 ? 64 : 32) * static_cast<double>(iters) / t * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> ms = {"1", "4", "16", "128", "512"};
  std::vector<std::string> dtypes = {"f32", "bf16", "bf16dot", "f16", "q8_0"};
  std::vector<std::string> isas = {"scalar", "avx2", "avx512"};
  std::vector<std::string> shapes = {"0", "1"};
  double min_time = 0.3;
  bool hot = false;  // --hot 1: one copy of W, read from the caches (the compute-bound limit)
  std::vector<std::string> widens;  // --fp8-widen: empty for the CPU's default
  int offset = 0;  // --offset B: W starts B bytes past a cache line, as weights read from a file
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--m") {
      ms = split(value);
    } else if (flag == "--dtype") {
      dtypes = split(value);
    } else if (flag == "--isa") {
      isas = split(value);
    } else if (flag == "--shape") {
      shapes = split(value);
    } else if (flag == "--hot") {
      hot = value == "1";
    } else if (flag == "--fp8-widen") {
      widens = split(value);
      for (const std::string& v : widens)
        if (v != "f16" && v != "subnormal") {
          std::fprintf(stderr, "error: --fp8-widen %s: f16 or subnormal\n", v.c_str());
          return 2;
        }
    } else if (flag == "--offset") {
      offset = std::atoi(value.c_str());
      if (offset < 0 || offset >= 64) {
        std::fprintf(stderr, "error: --offset %s: 0 to 63 bytes\n", value.c_str());
        return 2;
      }
    } else if (flag == "--avx2-int8") {  // the AVX2 table's int8 dot products (dispatch.h)
      bool known = false;
      for (Avx2Int8 v : kAvx2Int8Variants)
        if (value == avx2_int8_name(v)) {
          known = true;
          if (!avx2_int8_supported(v)) {
            std::fprintf(stderr, "error: --avx2-int8 %s: not on this CPU\n", value.c_str());
            return 2;
          }
          set_avx2_int8(v);
        }
      if (!known) {
        std::fprintf(stderr, "error: --avx2-int8 %s: maddubs, avxvnni or vnni256\n", value.c_str());
        return 2;
      }
    } else if (flag == "--min-time") {
      min_time = std::atof(value.c_str());
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  // 0, 1: the MLP up projections of the 0.5B and 1.5B shapes; 2: 1.5B's down projection; 3: its
  // output layer; 4: a DeepSeek-V3 projection (hidden 7168 to an expert's 2048); 5: 128 of its
  // rows, which fit in a core's L2 at 8 and 16 bits (with --hot 1: the kernel's compute limit).
  const int64_t shape_k[] = {896, 1536, 8960, 1536, 7168, 7168},
                shape_n[] = {4864, 8960, 1536, 151936, 2048, 128};

  std::printf("1 core peak (GFLOP/s):");
  if (isa_supported(Isa::Avx2)) std::printf(" avx2 fma %.0f", peak_avx2_fma());
  if (isa_supported(Isa::Avx512))
    std::printf(" | avx512 fma %.0f, vdpbf16ps %.0f", peak_avx512(false), peak_avx512(true));
  std::printf(" | read 4 streams %.1f, 1 stream %.1f GB/s", stream_read_gbs(4), stream_read_gbs(1));
  std::printf("\n");
  std::printf("%-11s %-7s %4s %-7s %10s %9s %8s %9s\n", "shape", "dtype", "M", "isa", "ms/call",
              "GFLOP/s", "W GB/s", "x scalar");
  for (const std::string& shape : shapes) {
    const int si = std::atoi(shape.c_str());
    if (si < 0 || si >= static_cast<int>(std::size(shape_k))) {
      std::fprintf(stderr, "error: --shape %s: shapes are 0 to %zu\n", shape.c_str(),
                   std::size(shape_k) - 1);
      return 2;
    }
    const int64_t K = shape_k[si], N = shape_n[si];
    for (const std::string& dt : dtypes) {
      // bf16dot: bf16 W with X rounded to bf16 and bf16 dot products (GemmParams::bf16_dot);
      // a block type with "+bf16" (q4_k_r8+bf16): the same over its dequantized panels.
      const bool plus_bf16 = dt.size() > 5 && dt.compare(dt.size() - 5, 5, "+bf16") == 0;
      const std::string base_dt = plus_bf16 ? dt.substr(0, dt.size() - 5) : dt;
      const bool bf16_dot = dt == "bf16dot" || plus_bf16;
      const DType t = base_dt == "f32"                       ? DType::F32
                      : base_dt == "bf16" || dt == "bf16dot" ? DType::BF16
                      : base_dt == "q8_0"                    ? DType::Q8_0
                      : base_dt == "q4_k"                    ? DType::Q4_K
                      : base_dt == "q6_k"                    ? DType::Q6_K
                      : base_dt == "q4_k_r8"                 ? DType::Q4_K_R8
                      : base_dt == "q6_k_r8"                 ? DType::Q6_K_R8
                      : base_dt == "q8_0_r8"                 ? DType::Q8_0_R8
                      : base_dt == "q4_0_r8"                 ? DType::Q4_0_R8
                      : base_dt == "q5_0_r8"                 ? DType::Q5_0_R8
                      : base_dt == "f8_e4m3"                 ? DType::F8_E4M3
                                                             : DType::F16;
      const size_t w_bytes = dtype_bytes(t, N * K);
      const int copies =
          hot ? 1 : static_cast<int>(std::max<size_t>(1, (256u << 20) / w_bytes + 1));
      struct Aligned {
        uint8_t* p;
        uint8_t* data() const { return p; }
      };
      // W allocated as a model's weights are (core/tensor.cc: from 2 MiB on in huge pages, which
      // changes how fast it streams from memory).
      std::vector<Tensor> owners;
      std::vector<Aligned> ws;
      for (int c = 0; c < copies; ++c) {
        owners.push_back(Tensor::empty(DType::U8, {static_cast<int64_t>(w_bytes) + offset}));
        ws.push_back({static_cast<uint8_t*>(owners.back().data) + offset});
      }
      std::mt19937 rng(1);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (auto& w : ws) {
        if (is_block_type(t)) {
          // Block types from random rows (packed layouts: quantized plain, then packed).
          const DType base = unpacked_type(t);
          std::vector<uint8_t> plain(dtype_bytes(base, N * K));
          std::vector<float> row(K);
          for (int64_t n = 0; n < N; ++n) {
            for (float& f : row) f = dist(rng);
            quantize_row(base, row.data(), plain.data() + dtype_bytes(base, n * K), K);
          }
          if (base == t) {
            std::memcpy(w.data(), plain.data(), w_bytes);
          } else {
            for (int64_t n = 0; n < N; n += kPackRows)
              pack_rows8(base, plain.data() + dtype_bytes(base, n * K),
                         w.data() + dtype_bytes(t, n * K), K);
          }
          continue;
        }
        if (t == DType::F8_E4M3) {
          // As DeepSeek's checkpoints are quantized: normal values over a block's largest
          // magnitude (about 5 sigma) mapped onto +-448, each to the nearest code (so about 1e-4
          // of them are e4m3 subnormals, not the 1/16 of uniformly random bytes).
          std::vector<std::pair<float, uint8_t>> codes;  // the finite non-negative codes, sorted
          for (int c = 0; c < 0x7f; ++c) codes.push_back({fp8_e4m3_to_f32(c), c});
          std::normal_distribution<float> normal(0.0f, 448.0f / 5.0f);
          for (int64_t i = 0; i < N * K; ++i) {
            const float v = normal(rng), a = std::min(std::fabs(v), 448.0f);
            auto it = std::lower_bound(codes.begin(), codes.end(), std::make_pair(a, uint8_t{0}));
            if (it == codes.end() || (it != codes.begin() && a - (it - 1)->first < it->first - a))
              --it;
            w.data()[i] = static_cast<uint8_t>(it->second | (v < 0 ? 0x80 : 0));
          }
          continue;
        }
        for (int64_t i = 0; i < N * K; ++i) {
          float f = dist(rng);
          if (t == DType::F32) {
            std::memcpy(w.data() + 4 * i, &f, 4);
          } else {
            uint16_t h = t == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
            std::memcpy(w.data() + 2 * i, &h, 2);
          }
        }
      }
      for (const std::string& m_str : ms) {
        const int64_t M = std::atoll(m_str.c_str());
        std::vector<float> x(M * K), y(M * N);
        for (float& v : x) v = dist(rng);
        double scalar_gflops = 0;
        for (const std::string& isa_str : isas) {
          const Isa isa = isa_str == "scalar" ? Isa::Scalar
                          : isa_str == "avx2" ? Isa::Avx2
                                              : Isa::Avx512;
          if (!isa_supported(isa)) {
            std::printf("%-11s %-7s %4lld %-7s   (not supported by this CPU)\n", "", dt.c_str(),
                        static_cast<long long>(M), isa_str.c_str());
            continue;
          }
          const KernelTable& k = kernels_for(isa);
          int64_t n_count = N;
          if (isa == Isa::Scalar) n_count = std::clamp<int64_t>(50000000 / (M * K), 16, N) / 8 * 8;
          GemmParams p;
          p.M = M;
          p.K = K;
          p.n_begin = 0;
          p.n_end = n_count;
          p.x = x.data();
          p.ldx = K;
          p.wtype = t;
          p.bf16_dot = bf16_dot;
          p.ldw = K;
          p.y = y.data();
          p.ldy = N;
          // fp8: DeepSeek-V3's 128 x 128 weight blocks, each with its f32 scale
          const int64_t ld_scale = (K + 127) / 128;
          std::vector<float> scales(static_cast<size_t>((N + 127) / 128 * ld_scale), 0.01f);
          p.w_scale = scales.data();
          p.ld_scale = ld_scale;
          p.w_no_nan = true;  // as a loaded model's weights, looked at once on first use
          char shape_name[32];
          std::snprintf(shape_name, sizeof shape_name, "%lldx%lld", static_cast<long long>(K),
                        static_cast<long long>(N));
          // One line per way of widening fp8 (--fp8-widen), else one for the CPU's default.
          std::vector<std::string> variants = {""};
          if (t == DType::F8_E4M3 && isa != Isa::Scalar && !widens.empty()) variants = widens;
          for (const std::string& variant : variants) {
            if (!variant.empty())
              set_fp8_widen(variant == "f16" ? Fp8Widen::F16 : Fp8Widen::Subnormal);
            std::vector<double> times;
            const double start = now_s();
            int call = 0;
            while (times.size() < 3 || now_s() - start < min_time) {
              p.w = ws[call++ % copies].data();
              const double t0 = now_s();
              k.gemm(p);
              times.push_back(now_s() - t0);
            }
            std::sort(times.begin(), times.end());
            const double sec = times[times.size() / 2];
            const double gflops = 2.0 * M * K * n_count / sec * 1e-9;
            const double gbs = static_cast<double>(dtype_bytes(t, n_count * K)) / sec * 1e-9;
            if (isa == Isa::Scalar) scalar_gflops = gflops;
            char ratio[32] = "";
            if (scalar_gflops > 0)
              std::snprintf(ratio, sizeof ratio, "%8.1fx", gflops / scalar_gflops);
            const std::string label = variant.empty() ? dt : "f8/" + variant.substr(0, 3);
            std::printf("%-11s %-7s %4lld %-7s %10.3f %9.2f %8.2f %9s\n", shape_name, label.c_str(),
                        static_cast<long long>(M), isa_str.c_str(), sec * 1e3, gflops, gbs, ratio);
            std::fflush(stdout);
          }
          reset_fp8_widen();
        }
      }
    }
  }
  return 0;
}
