// Small deterministic hashing and random numbers with fixed algorithms, so that seeded data,
// splits and initial weights are the same on every platform (the standard library's
// distributions are implementation-defined).
#pragma once

#include <cstdint>
#include <string_view>

namespace r1 {

// FNV-1a, 64-bit.
inline uint64_t fnv1a64(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// splitmix64's output function (Steele, Lea and Flood 2014).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// splitmix64: state += gamma, output mix64(state).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += kGoldenGamma); }
  // Uniform in [lo, hi] (inclusive; lo <= hi), by rejection: no modulo bias.
  int64_t uniform(int64_t lo, int64_t hi);
  size_t index(size_t n) { return static_cast<size_t>(uniform(0, static_cast<int64_t>(n) - 1)); }
  // Uniform in (0, 1) from the top 53 bits.
  double unit() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

}  // namespace r1
