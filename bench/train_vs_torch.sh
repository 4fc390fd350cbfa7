#!/usr/bin/env bash
# Training speed, r1 vs PyTorch eager, on the same ~10M-parameter Qwen2 model, same thread count.
#
# Usage: bench/train_vs_torch.sh [--threads "1 2"] [--rounds 2] [--steps 6] [--seq-len 256]
#                                [--batch 8] [--shape "384 6 6 2 1024"] [--bf16]
# --shape is "hidden layers heads kv_heads intermediate" for `r1 train init` (vocab 768, the
# tokenizer of models/r1-tiny-random; tied embeddings; f32). Each step trains on `batch`
# windows of seq-len + 1 tokens (batch * seq-len loss targets), AdamW + clipping on both sides.
# Rounds interleave r1 and torch for each thread count; the figure per run is the median of
# targets/s over its steps after the first two (warm-up); the table shows medians over rounds.
# Threads: Debian's torch does its matrix products in OpenBLAS (pthreads), which by default uses
# every core whatever torch.set_num_threads says; the torch runs therefore set
# OPENBLAS_NUM_THREADS and OMP_NUM_THREADS to T. One more torch run per round keeps the defaults
# (set_num_threads(1), OpenBLAS on all cores: what a user gets) and is reported as its own row.
# --bf16 also runs both sides with bf16 matrix products in every round: r1 --bf16-matmul against
# torch.autocast("cpu", bfloat16) (oneDNN), reported as rows of their own.
# Environment: R1_BENCH_DIR (default /tmp/r1bench-train), R1_BIN (default build/r1),
#              PYTHON (default /usr/bin/python3, Debian's, with torch).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="1 2"; ROUNDS=2; STEPS=6; L=256; B=8; SHAPE="384 6 6 2 1024"; BF16=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    --seq-len) L="$2"; shift 2 ;;
    --batch) B="$2"; shift 2 ;;
    --shape) SHAPE="$2"; shift 2 ;;
    --bf16) BF16=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
DIR="${R1_BENCH_DIR:-/tmp/r1bench-train}"
R1_BIN="${R1_BIN:-build/r1}"
PYTHON="${PYTHON:-/usr/bin/python3}"
mkdir -p "$DIR"
read -r HID LAY HEADS KV INTER <<< "$SHAPE"
MODEL="$DIR/model-${HID}-${LAY}-${HEADS}-${KV}-${INTER}"
if [ ! -f "$MODEL/model.safetensors" ]; then
  "$R1_BIN" train init --tokenizer models/r1-tiny-random --hidden "$HID" --layers "$LAY" \
    --heads "$HEADS" --kv-heads "$KV" --intermediate "$INTER" --seed 1 --out "$MODEL" >&2
fi
# Text for r1's windows: enough that every step gets B full windows of L + 1 tokens.
TEXT="$DIR/text.txt"
if [ ! -f "$TEXT" ]; then
  for i in $(seq 1 4000); do
    echo "Tom has $i apples and buys $((i * 7 % 13)) more. How many apples does he have now?"
  done > "$TEXT"
fi
RESULTS="$DIR/results-$(date +%s).jsonl"
# One r1 run: side name, thread count, extra flags.
run_r1() {
  OUT="$DIR/r1-run"
  rm -rf "$OUT"
  # shellcheck disable=SC2086
  "$R1_BIN" train pretrain -m "$MODEL" --data "$TEXT" --out "$OUT" --steps "$STEPS" \
    --seq-len "$L" --batch-tokens $((B * (L + 1))) --threads "$2" --log-every 1000000 $3 2>/dev/null
  "$PYTHON" - "$OUT/train_log.jsonl" "$1" "$2" >> "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
rates = [r["targets"] / r["seconds"] for r in rows[2:]]
print(json.dumps({"side": sys.argv[2], "threads": int(sys.argv[3]),
                  "targets_per_step": rows[0]["targets"], "tok_s": statistics.median(rates),
                  "steps": [round(x, 1) for x in rates]}))
PY
}
run_torch() {  # thread count, extra flags
  # shellcheck disable=SC2086
  OPENBLAS_NUM_THREADS="$1" OMP_NUM_THREADS="$1" "$PYTHON" bench/torch_train.py \
    --model "$MODEL" --threads "$1" --seq-len "$L" --batch "$B" --steps "$STEPS" $2 >> "$RESULTS"
}
for round in $(seq 1 "$ROUNDS"); do
  for T in $THREADS; do
    run_r1 r1 "$T" ""
    run_torch "$T" ""
    tail -2 "$RESULTS" >&2
    if [ "$BF16" = 1 ]; then
      run_r1 r1-bf16 "$T" --bf16-matmul
      run_torch "$T" --bf16
      tail -2 "$RESULTS" >&2
    fi
  done
  "$PYTHON" bench/torch_train.py --model "$MODEL" --threads 1 --seq-len "$L" --batch "$B" \
    --steps "$STEPS" | sed 's/"side": "torch"/"side": "torch-default"/' >> "$RESULTS"
  tail -1 "$RESULTS" >&2
done
"$PYTHON" - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
params = next(r["params"] for r in rows if r["side"] == "torch")
print(f"\nmodel: {params / 1e6:.1f}M parameters; results: {sys.argv[1]}\n")
print("| threads | r1 train tok/s | torch train tok/s | r1 / torch |")
print("|---|---|---|---|")
def med(side, t):
    v = [r["tok_s"] for r in rows if r["side"] == side and r["threads"] == t]
    return statistics.median(v) if v else None
for t in sorted({r["threads"] for r in rows if r["side"] == "r1"}):
    a, b = med("r1", t), med("torch", t)
    print(f"| {t} | {a:.0f} | {b:.0f} | {a / b:.2f}x |")
    a16, b16 = med("r1-bf16", t), med("torch-bf16", t)
    if a16:
        print(f"| {t}, bf16 products (r1 --bf16-matmul, torch autocast) | {a16:.0f} | {b16:.0f} | "
              f"{a16 / b16:.2f}x |")
        print(f"| {t}, r1 bf16 products vs torch f32 | {a16:.0f} | {b:.0f} | {a16 / b:.2f}x |")
d = [r["tok_s"] for r in rows if r["side"] == "torch-default"]
if d:
    best = max(statistics.median(r["tok_s"] for r in rows if r["side"] == "r1" and r["threads"] == t)
               for t in {r["threads"] for r in rows if r["side"] == "r1"})
    print(f"| torch defaults (1 torch thread, OpenBLAS on every core) vs r1's best | {best:.0f} | "
          f"{statistics.median(d):.0f} | {best / statistics.median(d):.2f}x |")
PY
