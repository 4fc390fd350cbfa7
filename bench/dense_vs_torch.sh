#!/usr/bin/env bash
# r1 vs PyTorch eager on random models shaped like Qwen2.5-0.5B and R1-Distill-Qwen-1.5B.
#
# Usage: bench/dense_vs_torch.sh [options]
#   --shapes "qwen0.5b qwen1.5b"   model shapes (tools/reference/make_random_model.py)
#   --dtypes "f32 bf16"            stored dtypes
#   --threads "1 2"                thread counts
#   --rounds 3                     rounds; each round runs r1 then torch (interleaved), medians are reported
#   -P 64 / --prompt-tokens 64     prompt tokens (prefill)
#   -G 16 / --gen-tokens 16        generated tokens (decode, greedy, batch 1)
#   --no-r1 / --no-torch           run only one side (e.g. while build/r1 bench does not exist yet)
# Environment: R1_BENCH_DIR (default /tmp/r1bench) holds the random models, written once and reused;
#              R1_BIN (default build/r1); PYTHON (default /usr/bin/python3, Debian's, which has torch).
#
# Each run is a fresh process that loads the model and warms up before timing (this machine
# reclaims file pages idle for about a minute, so a run must not rely on an earlier one's cache).
# r1 is run as: $R1_BIN bench -m DIR --prompt-tokens P --gen-tokens G --threads T --json
# and must print one JSON line with prefill_tok_s and decode_tok_s; torch is bench/torch_dense.py.
# Output: the raw JSON lines in $R1_BENCH_DIR/results-<time>.jsonl and a Markdown table of medians
# with the ratios r1/torch.
set -euo pipefail

cd "$(dirname "$0")/.."
SHAPES="qwen0.5b qwen1.5b"
DTYPES="f32 bf16"
THREADS="1 2"
ROUNDS=3
P=64
G=16
RUN_R1=1
RUN_TORCH=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --shapes) SHAPES="$2"; shift 2 ;;
    --dtypes) DTYPES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    -P|--prompt-tokens) P="$2"; shift 2 ;;
    -G|--gen-tokens) G="$2"; shift 2 ;;
    --no-r1) RUN_R1=0; shift ;;
    --no-torch) RUN_TORCH=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

BENCH_DIR="${R1_BENCH_DIR:-/tmp/r1bench}"
R1_BIN="${R1_BIN:-build/r1}"
PYTHON="${PYTHON:-/usr/bin/python3}"
mkdir -p "$BENCH_DIR"
RESULTS="$BENCH_DIR/results-$(date -u +%Y%m%dT%H%M%S).jsonl"
: > "$RESULTS"

if [[ $RUN_R1 == 1 && ! -x "$R1_BIN" ]]; then
  echo "warning: $R1_BIN not found; running torch only" >&2
  RUN_R1=0
fi

# run_one IMPL SHAPE DTYPE THREADS ROUND DIR: appends one tagged JSON line to $RESULTS.
run_one() {
  local impl=$1 shape=$2 dtype=$3 threads=$4 round=$5 dir=$6 line
  if [[ $impl == r1 || $impl == r1fast ]]; then
    local extra="--exact"
    [[ $impl == r1fast ]] && extra="--fast-bf16"
    line=$("$R1_BIN" bench -m "$dir" --prompt-tokens "$P" --gen-tokens "$G" --threads "$threads" --json $extra | tail -n 1) || {
      echo "warning: r1 bench failed on $dir (threads $threads)" >&2; return 0; }
  else
    line=$("$PYTHON" bench/torch_dense.py -m "$dir" --prompt-tokens "$P" --gen-tokens "$G" --threads "$threads" | tail -n 1) || {
      echo "warning: torch bench failed on $dir (threads $threads)" >&2; return 0; }
  fi
  echo "$line" >&2
  "$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(impl=sys.argv[2], shape=sys.argv[3], dtype=sys.argv[4], threads=int(sys.argv[5]), round=int(sys.argv[6])); print(json.dumps(d))' \
    "$line" "$impl" "$shape" "$dtype" "$threads" "$round" >> "$RESULTS"
}

for shape in $SHAPES; do
  for dtype in $DTYPES; do
    dir="$BENCH_DIR/$shape-$dtype"
    if [[ ! -f "$dir/model.safetensors" || ! -f "$dir/.complete" ]]; then
      echo "== writing random $shape $dtype model to $dir" >&2
      "$PYTHON" tools/reference/make_random_model.py --shape "$shape" --dtype "$dtype" --out "$dir" >&2
      touch "$dir/.complete"
    fi
    for threads in $THREADS; do
      for round in $(seq 1 "$ROUNDS"); do
        echo "== $shape $dtype threads=$threads round $round/$ROUNDS" >&2
        [[ $RUN_R1 == 1 ]] && run_one r1 "$shape" "$dtype" "$threads" "$round" "$dir"
        [[ $RUN_R1 == 1 && $dtype == bf16 ]] && run_one r1fast "$shape" "$dtype" "$threads" "$round" "$dir"
        [[ $RUN_TORCH == 1 ]] && run_one torch "$shape" "$dtype" "$threads" "$round" "$dir"
      done
    done
  done
done

"$PYTHON" - "$RESULTS" "$P" "$G" <<'EOF'
import json, statistics, sys
path, P, G = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(path) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["shape"], r["dtype"], r["threads"]), {}).setdefault(r["impl"], []).append(r)

def med(runs, key):
    vals = [r[key] for r in runs or [] if isinstance(r.get(key), (int, float))]
    return statistics.median(vals) if vals else None

def fmt(x, digits=1):
    return "n/a" if x is None else f"{x:.{digits}f}"

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

print(f"\nprompt {P} tokens, generate {G} tokens, batch 1; medians over rounds; raw: {path}\n")
print("| shape | dtype | threads | r1 prefill tok/s | torch prefill tok/s | prefill r1/torch | r1 decode tok/s | torch decode tok/s | decode r1/torch | r1 decode GB/s | machine GB/s | % of roofline |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for (shape, dtype, threads), impls in sorted(groups.items()):
    for impl, label in (("r1", dtype + " --exact"), ("r1fast", dtype + " --fast-bf16")):
        if impl not in impls:
            continue
        rp, tp = med(impls.get(impl), "prefill_tok_s"), med(impls.get("torch"), "prefill_tok_s")
        rd, td = med(impls.get(impl), "decode_tok_s"), med(impls.get("torch"), "decode_tok_s")
        gb, bw = med(impls.get(impl), "decode_gb_s"), med(impls.get(impl), "machine_read_gb_s")
        print(f"| {shape} | {label} | {threads} | {fmt(rp)} | {fmt(tp)} | {fmt(ratio(rp, tp), 2)} | "
              f"{fmt(rd, 2)} | {fmt(td, 2)} | {fmt(ratio(rd, td), 2)} | {fmt(gb)} | {fmt(bw)} | "
              f"{fmt(None if ratio(gb, bw) is None else 100 * ratio(gb, bw), 0)} |")
EOF
