#!/usr/bin/env bash
# One GRPO update (reference forward, policy forward and backward over a batch of completions,
# AdamW), r1 next to PyTorch eager (bench/torch_grpo.py, batched and padded as TRL does) on the
# same model and the same batch, interleaved, 1 and 2 threads. Prints the median seconds per
# update of each and their ratio.
#
# Usage: bench/grpo_vs_torch.sh [MODEL_DIR] [ROUNDS] [P G PROMPT_LEN COMPLETION_LEN]
#   MODEL_DIR default models/r1-arith (the 1.7M model the RL recipes train); the batch default is
#   4 prompts x 8 completions, prompts of 64 tokens, completions of 64-128.
# Environment: PYTHON (default /usr/bin/python3, Debian's, with torch); BUILD (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-models/r1-arith}"
ROUNDS="${2:-2}"
SHAPE=("${@:3}")
BUILD="${BUILD:-build}"
PYTHON="${PYTHON:-/usr/bin/python3}"
cmake --build "$BUILD" --target grpo_step_bench >/dev/null
BATCH=$(mktemp /tmp/r1-grpo-batch-XXXXXX.json)
RESULTS=$(mktemp /tmp/r1-grpo-results-XXXXXX.jsonl)
for round in $(seq 1 "$ROUNDS"); do
  for T in 1 2; do
    "$BUILD/grpo_step_bench" "$MODEL" "$BATCH" 5 "$T" "${SHAPE[@]}" >> "$RESULTS"
    OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T "$PYTHON" bench/torch_grpo.py --model "$MODEL" \
      --batch "$BATCH" --threads "$T" --steps 5 >> "$RESULTS"
  done
done
"$PYTHON" - "$RESULTS" "$MODEL" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"one GRPO update on {sys.argv[2]} ({rows[0]['tokens_per_step']} tokens per update), "
      "median seconds over rounds:")
print("| threads | r1 | PyTorch eager | r1 speed-up |")
print("|---|---|---|---|")
for t in sorted({r["threads"] for r in rows}):
    a = statistics.median(r["median"] for r in rows if r["side"] == "r1" and r["threads"] == t)
    b = statistics.median(r["median"] for r in rows if r["side"] == "torch" and r["threads"] == t)
    print(f"| {t} | {a:.3f} | {b:.3f} | {b / a:.2f}x |")
PY
rm -f "$BATCH"
