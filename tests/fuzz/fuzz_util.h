// Shared by the libFuzzer targets: what counts as a finding. Bad input must end as an r1::Error of
// kind Input or Usage (exit code 2 in the CLI); an Internal error, any other exception (a
// library's), a crash, a sanitizer report, a hang or a runaway allocation is a defect, and the
// input that caused it is saved by libFuzzer.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace r1::fuzz {

template <typename F>
void expect_input_errors(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::Internal) {
      std::fprintf(stderr, "internal error on fuzz input: %s\n", e.what());
      std::abort();
    }
  }
}

// Aborts with a message when a property that must hold does not.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property failed: %s\n", what);
    std::abort();
  }
}

}  // namespace r1::fuzz
