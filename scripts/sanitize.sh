#!/usr/bin/env bash
# The whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer (any report fails the
# test that caused it): configures build-asan/ (GCC, -O1 with debug info), builds and runs ctest.
# Takes about 25 minutes on 2 cores, so it is a separate script rather than part of .ci/run; run it
# before a release and after touching parsers, kernels or the sandbox.
#
# Usage: scripts/sanitize.sh [ctest arguments, e.g. -R Template]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DR1_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
cmake --build build-asan -j2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2 --timeout 1800 "$@"
