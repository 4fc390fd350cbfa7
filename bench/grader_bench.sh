#!/usr/bin/env bash
# Grading speed of `r1 eval grade` (task math): MATH-500's 500 reference solutions graded against
# their answers (MATH-500-sized responses, ~0.6 KB median), then the same solutions padded to
# R1-length responses (~7 KB median: 16 copies of the solution's reasoning before it), each set repeated
# to at least 5,000 lines. Prints grades per second and microseconds per grade; the process start
# is measured separately and taken off.
# Usage: bench/grader_bench.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
R1="$BUILD/r1"
[ -x "$R1" ] || { echo "build $R1 first (scripts/build.sh)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 - "$TMP" <<'PY'
import json, sys
rows = [json.loads(l) for l in open("data/math500.jsonl")]
out = sys.argv[1]
def write(name, make):
    lines = [json.dumps({"gold": r["answer"], "response": make(r["solution"])}) for r in rows]
    reps = max(1, 5000 // len(lines))
    with open(f"{out}/{name}.jsonl", "w") as f:
        for _ in range(reps):
            f.write("\n".join(lines) + "\n")
    size = sorted(len(make(r["solution"])) for r in rows)[len(rows) // 2]
    print(f"{name}: {len(lines) * reps} lines, median response {size} bytes")
write("math500", lambda s: s)
write("r1_length", lambda s: ("Let me think again. " + s.replace("\\boxed", "")) * 16 + s)
PY
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), 1 thread"
start=$(seconds "$R1" eval grade < /dev/null)
for set in math500 r1_length; do
  n=$(wc -l < "$TMP/$set.jsonl")
  best=""
  for rep in 1 2 3; do  # best of 3: the machine is shared
    s=$(seconds "$R1" eval grade < "$TMP/$set.jsonl")
    if [ -z "$best" ] || (( $(echo "$s < $best" | bc -l) )); then best=$s; fi
  done
  correct=$("$R1" eval grade < "$TMP/$set.jsonl" | grep -c '"correct":true' || true)
  net=$(echo "$best - $start" | bc -l)
  printf '%-10s %6d grades in %6.3f s: %8.0f grades/s, %6.1f us/grade (%d correct)\n' \
    "$set" "$n" "$net" "$(echo "$n / $net" | bc -l)" "$(echo "1000000 * $net / $n" | bc -l)" "$correct"
done
