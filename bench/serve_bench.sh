#!/usr/bin/env bash
# r1 serve throughput (bench/serve_bench.mjs) on the bundled model and on a random model shaped
# like DeepSeek-R1-Distill-Qwen-1.5B in bf16 (written once under ${R1_BENCH_DIR:-/tmp/r1bench}).
# usage: bench/serve_bench.sh [--threads N] [--tokens N]   (needs scripts/install-deps.sh's npm set-up)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
R1="$ROOT/build/r1"
DIR="${R1_BENCH_DIR:-/tmp/r1bench}"
THREADS=2
TOKENS=32
while (($#)); do
  case "$1" in
    --threads) THREADS="$2"; shift 2 ;;
    --tokens) TOKENS="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
M="$DIR/qwen-1.5b-shape-bf16"
if [ ! -f "$M/model.safetensors" ]; then
  # R1-Distill-Qwen-1.5B's shape (docs/FACTS.md section 1) and tokenizer; context cut to 4096.
  "$R1" train init --arch qwen2 --tokenizer "$ROOT/build/tokenizers/r1-distill-qwen" \
    --hidden 1536 --layers 28 --heads 12 --kv-heads 2 --intermediate 8960 --vocab 151936 \
    --max-position 4096 --untied --dtype bf16 --seed 1 --out "$M"
fi
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
node "$ROOT/bench/serve_bench.mjs" "$R1" "$ROOT/models/r1-arith" --threads "$THREADS" \
  --tokens 128 --prefix-tokens 900
# Greedy: with random weights the distribution is nearly flat, and top-p 0.95 would order most of
# the 151,936-token vocabulary at every step (a trained model's is peaked).
node "$ROOT/bench/serve_bench.mjs" "$R1" "$M" --threads "$THREADS" --tokens "$TOKENS" \
  --prefix-tokens 2000 --repeats 8 --temperature 0
