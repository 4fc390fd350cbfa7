#include "core/random.h"

#include <cstdint>

#include "core/error.h"

namespace r1 {

int64_t SplitMix64::uniform(int64_t lo, int64_t hi) {
  R1_ASSERT(lo <= hi);
  const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;  // 0 means all 2^64 values
  if (range == 0) return static_cast<int64_t>(next());
  // Accept x below the largest multiple of range, so x % range is exactly uniform.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % range + 1) % range;
  uint64_t x;
  do x = next();
  while (x > limit);
  return lo + static_cast<int64_t>(x % range);
}

}  // namespace r1
