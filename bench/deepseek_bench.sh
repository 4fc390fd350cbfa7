#!/usr/bin/env bash
# r1 bench on random DeepSeek-V3-shaped models scaled to fit this machine (FP8 and bf16).
#
# Usage: bench/deepseek_bench.sh [options]
#   --dtypes "fp8 bf16"      stored dtypes (run interleaved: fp8, bf16, fp8, bf16, ...)
#   --threads "1 2"          thread counts
#   --rounds 1               processes per (dtype, threads); each reports the median of --reps
#                            timed repetitions; the table shows the median over rounds
#   --reps 3                 r1 bench --reps
#   -P 64 / --prompt-tokens  prompt tokens (prefill)
#   -G 16 / --gen-tokens     generated tokens (decode, greedy, batch 1)
#   --no-mmap                pass --no-mmap to r1 (read weights into memory instead of mapping)
#   --no-mtp                 write the models without the MTP layer (default: with, so r1 bench
#                            reports the MTP acceptance rate)
#   --gen-args "..."         extra shape options for tools/reference/make_random_deepseek.py
#                            (e.g. "--hidden 2048 --layers 8"); the model folders are then named
#                            after a hash of them so different shapes do not collide
# Environment: R1_BENCH_DIR (default /tmp/r1bench) holds the random models, written once and reused
#              (a folder counts as written when it has .complete); R1_BIN (default build/r1);
#              PYTHON (default /usr/bin/python3, Debian's, which has torch).
#
# Each run is a fresh process: `$R1_BIN bench -m DIR --prompt-tokens P --gen-tokens G --reps R
# --threads T --json`, which warms up before timing (this machine reclaims file pages idle for about
# a minute, so a run must not rely on an earlier one's page cache). Output: the raw JSON lines in
# $R1_BENCH_DIR/deepseek-results-<time>.jsonl, `r1 bench --dry-run` of each folder, and a Markdown
# table of medians.
set -euo pipefail

cd "$(dirname "$0")/.."
DTYPES="fp8 bf16"
THREADS="1 2"
ROUNDS=1
REPS=3
P=64
G=16
NO_MMAP=""
MTP="--mtp"
GEN_ARGS=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dtypes) DTYPES="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    -P|--prompt-tokens) P="$2"; shift 2 ;;
    -G|--gen-tokens) G="$2"; shift 2 ;;
    --no-mmap) NO_MMAP="--no-mmap"; shift ;;
    --no-mtp) MTP=""; shift ;;
    --gen-args) GEN_ARGS="$2"; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

BENCH_DIR="${R1_BENCH_DIR:-/tmp/r1bench}"
R1_BIN="${R1_BIN:-build/r1}"
PYTHON="${PYTHON:-/usr/bin/python3}"
if [[ ! -x "$R1_BIN" ]]; then
  echo "error: $R1_BIN not found (cmake --build build -j2 --target r1)" >&2
  exit 1
fi
mkdir -p "$BENCH_DIR"
RESULTS="$BENCH_DIR/deepseek-results-$(date -u +%Y%m%dT%H%M%S).jsonl"
: > "$RESULTS"

suffix=""
[[ -z "$MTP" ]] && suffix="-nomtp"
[[ -n "$GEN_ARGS" ]] && suffix="$suffix-$(echo "$GEN_ARGS" | md5sum | cut -c1-8)"
model_dir() { echo "$BENCH_DIR/dsv3-scaled-$1$suffix"; }

for dtype in $DTYPES; do
  dir=$(model_dir "$dtype")
  if [[ ! -f "$dir/.complete" ]]; then
    echo "== writing random DeepSeek-V3 $dtype model to $dir" >&2
    # shellcheck disable=SC2086
    "$PYTHON" tools/reference/make_random_deepseek.py --dtype "$dtype" --out "$dir" $MTP $GEN_ARGS >&2
    touch "$dir/.complete"
  fi
done

echo "== uptime: $(uptime)"
for dtype in $DTYPES; do
  dir=$(model_dir "$dtype")
  echo
  echo "== $R1_BIN bench --dry-run -m $dir"
  "$R1_BIN" bench --dry-run -m "$dir" || echo "warning: dry run failed on $dir" >&2
  echo "   on disk: $(du -sh --apparent-size "$dir" | cut -f1)"
done

# run_one DTYPE THREADS ROUND: appends one tagged JSON line to $RESULTS.
run_one() {
  local dtype=$1 threads=$2 round=$3 dir line
  dir=$(model_dir "$dtype")
  # shellcheck disable=SC2086
  line=$("$R1_BIN" bench -m "$dir" --prompt-tokens "$P" --gen-tokens "$G" --reps "$REPS" \
         --threads "$threads" --json $NO_MMAP | tail -n 1) || {
    echo "warning: r1 bench failed on $dir (threads $threads)" >&2; return 0; }
  echo "$line" >&2
  "$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(dtype=sys.argv[2], round=int(sys.argv[3]), load=open("/proc/loadavg").read().split()[0]); print(json.dumps(d))' \
    "$line" "$dtype" "$round" >> "$RESULTS"
}

for threads in $THREADS; do
  for round in $(seq 1 "$ROUNDS"); do
    for dtype in $DTYPES; do
      echo "== $dtype threads=$threads round $round/$ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
      run_one "$dtype" "$threads" "$round"
    done
  done
done

"$PYTHON" - "$RESULTS" "$P" "$G" "$REPS" "$NO_MMAP" <<'EOF'
import json, math, statistics, sys
path, P, G, reps, no_mmap = sys.argv[1:6]
rows = [json.loads(l) for l in open(path) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault((r["dtype"], r["threads"]), []).append(r)

def med(runs, key):
    vals = [r[key] for r in runs if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return statistics.median(vals) if vals else None

def fmt(x, digits=1, scale=1.0):
    return "n/a" if x is None else f"{x * scale:.{digits}f}"

print(f"\nprompt {P} tokens, generate {G} tokens, batch 1, --reps {reps}{' --no-mmap' if no_mmap else ''}; "
      f"medians over {max(len(v) for v in groups.values()) if groups else 0} process(es) per row; raw: {path}\n")
print("| dtype | threads | prefill tok/s | decode tok/s | weight MB / decode step | decode GB/s | measured GB/s "
      "| % of roofline | KV bytes/token absorbed / naive | MTP acceptance | MTP tokens/step | MTP speed-up | load |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
order = {"fp8": 0, "bf16": 1}
for (dtype, threads), runs in sorted(groups.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], 9))):
    dec, gbs, bw = med(runs, "decode_tok_s"), med(runs, "decode_gb_s"), med(runs, "machine_read_gb_s")
    roof = None if gbs is None or not bw else 100.0 * gbs / bw
    kv, kvn = med(runs, "kv_bytes_per_token"), med(runs, "naive_kv_bytes_per_token")
    mtp = med(runs, "mtp_acceptance_rate")
    loads = "/".join(str(r.get("load", "?")) for r in runs)
    print(f"| {dtype} | {threads} | {fmt(med(runs, 'prefill_tok_s'))} | {fmt(dec, 2)} | "
          f"{fmt(med(runs, 'weight_bytes_per_step'), 1, 1e-6)} | {fmt(gbs, 2)} | {fmt(bw, 1)} | {fmt(roof, 0)}% | "
          f"{fmt(kv, 0)} / {fmt(kvn, 0)} | {fmt(mtp, 2)} | {fmt(med(runs, 'mtp_tokens_per_step'), 2)} | "
          f"{fmt(med(runs, 'mtp_speedup'), 2)} | {loads} |")
EOF
