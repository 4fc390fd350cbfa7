// <immintrin.h> for the AVX-512 files (*_avx512.cc). GCC 12's AVX-512 headers build "undefined"
// vectors from self-initialised variables, which -Wuninitialized reports once _mm512_cvtph_ps,
// _mm512_reduce_* and the 256-to-512-bit casts are inlined (GCC PR 105593); the two warnings are
// off for the rest of the including file.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
