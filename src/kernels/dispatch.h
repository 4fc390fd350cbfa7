// Internals of the ISA choice, exposed for tests.
#pragma once

#include "kernels/kernels.h"

namespace r1::kernels {

// The best ISA of this CPU, capped by `cap` (the value of R1_ISA: nullptr or "" for no cap,
// otherwise scalar|avx2|avx512). An unknown value is a Usage error naming it.
Isa select_isa(const char* cap);

}  // namespace r1::kernels
