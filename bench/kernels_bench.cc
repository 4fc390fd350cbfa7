// GEMM micro-benchmark: GFLOP/s of every ISA and weight dtype against the scalar reference,
// single thread, for the FFN shapes of the small R1 distills (Qwen2 0.5B: K=896, N=4864;
// 1.5B: K=1536, N=8960). Decode (small M) also reports GB/s of W streamed; W is cycled through
// enough copies (>= 256 MB) that it comes from memory, not the L3.
//
//   kernels_bench [--m 1,4,16,128,512] [--dtype f32,bf16,f16] [--isa scalar,avx2,avx512]
//                 [--shape 0,1] [--min-time 0.3]
//
// Each figure is the median over the calls made in --min-time seconds of thread CPU time (at
// least 3 calls). The
// scalar reference computes only as many output columns as keep one call near 0.1 GFLOP.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/dtype.h"
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

struct Result {
  double seconds;  // median per call
  int64_t n_count;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> ms = {"1", "4", "16", "128", "512"};
  std::vector<std::string> dtypes = {"f32", "bf16", "f16"};
  std::vector<std::string> isas = {"scalar", "avx2", "avx512"};
  std::vector<std::string> shapes = {"0", "1"};
  double min_time = 0.3;
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
    } else if (flag == "--min-time") {
      min_time = std::atof(value.c_str());
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const int64_t shape_k[] = {896, 1536}, shape_n[] = {4864, 8960};

  std::printf("%-11s %-5s %4s %-7s %10s %9s %8s %9s\n", "shape", "dtype", "M", "isa", "ms/call",
              "GFLOP/s", "W GB/s", "x scalar");
  for (const std::string& shape : shapes) {
    const int64_t K = shape_k[std::atoi(shape.c_str())], N = shape_n[std::atoi(shape.c_str())];
    for (const std::string& dt : dtypes) {
      const DType t = dt == "f32" ? DType::F32 : dt == "bf16" ? DType::BF16 : DType::F16;
      const size_t es = dtype_size(t);
      const size_t w_bytes = static_cast<size_t>(N * K) * es;
      const int copies = static_cast<int>(std::max<size_t>(1, (256u << 20) / w_bytes + 1));
      std::vector<std::vector<uint8_t>> ws(copies, std::vector<uint8_t>(w_bytes));
      std::mt19937 rng(1);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      for (auto& w : ws) {
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
            std::printf("%-11s %-5s %4lld %-7s   (not supported by this CPU)\n", "", dt.c_str(),
                        static_cast<long long>(M), isa_str.c_str());
            continue;
          }
          const KernelTable& k = kernels_for(isa);
          int64_t n_count = N;
          if (isa == Isa::Scalar) n_count = std::clamp<int64_t>(50000000 / (M * K), 16, N);
          GemmParams p;
          p.M = M;
          p.K = K;
          p.n_begin = 0;
          p.n_end = n_count;
          p.x = x.data();
          p.ldx = K;
          p.wtype = t;
          p.ldw = K;
          p.y = y.data();
          p.ldy = N;
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
          const double gbs = static_cast<double>(n_count * K * es) / sec * 1e-9;
          if (isa == Isa::Scalar) scalar_gflops = gflops;
          char ratio[32] = "";
          if (scalar_gflops > 0)
            std::snprintf(ratio, sizeof ratio, "%8.1fx", gflops / scalar_gflops);
          char shape_name[32];
          std::snprintf(shape_name, sizeof shape_name, "%lldx%lld", static_cast<long long>(K),
                        static_cast<long long>(N));
          std::printf("%-11s %-5s %4lld %-7s %10.3f %9.2f %8.2f %9s\n", shape_name, dt.c_str(),
                      static_cast<long long>(M), isa_str.c_str(), sec * 1e3, gflops, gbs, ratio);
          std::fflush(stdout);
        }
      }
    }
  }
  return 0;
}
