#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan + coverage) in build-fuzz/
# and runs each for SECONDS (default 60) on its corpus in tests/fuzz/corpus/TARGET, in parallel
# jobs of one process per core. New inputs that add coverage are merged back into the committed
# corpus (kept minimal with -merge=1); a crash, leak, sanitizer report, internal error, timeout or
# runaway allocation stops the run and leaves its input in build-fuzz/findings/.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]       (needs: apt-get install clang-16 libclang-rt-16-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
CXX=${CXX:-clang++-16}
command -v "$CXX" >/dev/null || { echo "fuzz.sh: $CXX not found (apt-get install clang-16 libclang-rt-16-dev)"; exit 2; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX" \
  -DR1_FUZZ=ON -DR1_TESTS=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cc; do targets+=("$(basename "$f" .cc)"); done
fi
cmake --build build-fuzz -j2 --target "${targets[@]}"
mkdir -p build-fuzz/findings
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/${t#fuzz_}
  mkdir -p "$corpus" "build-fuzz/new/$t"
  echo "== $t: ${seconds}s on $(ls "$corpus" | wc -l) corpus inputs"
  # -rss_limit_mb / -malloc_limit_mb: an input that makes r1 allocate past 2 GB is a finding.
  if ! build-fuzz/"$t" "build-fuzz/new/$t" "$corpus" -max_total_time="$seconds" -timeout=20 \
      -rss_limit_mb=4096 -malloc_limit_mb=2048 -max_len=65536 -close_fd_mask=3 \
      -artifact_prefix="build-fuzz/findings/$t-" -print_final_stats=1 2>"build-fuzz/$t.log"; then
    echo "   FINDING: see build-fuzz/$t.log and build-fuzz/findings/"
    tail -30 "build-fuzz/$t.log"
    status=1
  fi
  grep -E '^stat::number_of_executed_units|^stat::new_units_added' "build-fuzz/$t.log" | sed 's/^/   /'
  # Keep the committed corpus minimal: only inputs that add coverage.
  build-fuzz/"$t" -merge=1 "$corpus" "build-fuzz/new/$t" -close_fd_mask=3 >/dev/null 2>&1 || true
  rm -rf "build-fuzz/new/$t"
done
exit $status
