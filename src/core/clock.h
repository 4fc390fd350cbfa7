// Wall-clock time for rates and latencies (a steady clock: it never goes back).
#pragma once

#include <chrono>

namespace r1 {

// Seconds since an arbitrary fixed point; differences are elapsed time.
inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace r1
