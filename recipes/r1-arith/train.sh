#!/usr/bin/env bash
# Reproduces models/r1-arith, the bundled default model, with r1 alone:
#   1. procedurally generated SFT data (r1 tasks arithmetic: column-method worked solutions in
#      R1's <think> ... </think> then \boxed{} shape; the test split is never generated here);
#   2. a byte-level BPE tokenizer trained on that data (R1 special tokens, R1-Distill chat
#      template taken from models/r1-tiny-random);
#   3. a new Qwen2-architecture model (r1 train init);
#   4. SFT with loss on the replies only (r1 train sft).
# Then it measures accuracy on the 500 held-out problems (tests/fixtures/arith/heldout-500.jsonl)
# with greedy decoding.
#
# usage: recipes/r1-arith/train.sh [WORK_DIR] [OUT_DIR]
#   WORK_DIR (default /tmp/r1-arith-work) receives data, checkpoints and logs;
#   OUT_DIR (default models/r1-arith) receives the final model folder.
# Interrupted? Run it again: the SFT step continues from its newest checkpoint (--resume).
# Deterministic: same r1 build, same thread count -> same model (data, tokenizer and init are
# seeded; the training math does not depend on timing).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
R1="${R1:-$ROOT/build/r1}"
WORK="${1:-/tmp/r1-arith-work}"
OUT="${2:-$ROOT/models/r1-arith}"
THREADS="${THREADS:-2}"
mkdir -p "$WORK"

if [ ! -f "$WORK/train.jsonl" ]; then
  "$R1" tasks arithmetic --split train --format sft --n 200000 --seed 1 --bare-fraction 0.3 \
    --out "$WORK/train.jsonl"
  "$R1" tasks arithmetic --split train --format sft --n 1000 --seed 2 --out "$WORK/val.jsonl"
fi
if [ ! -f "$WORK/tokenizer/tokenizer.json" ]; then
  "$R1" train tokenizer --corpus "$WORK/train.jsonl" --vocab-size 512 --special r1 \
    --template-from "$ROOT/models/r1-tiny-random" --out "$WORK/tokenizer"
fi
if [ ! -f "$WORK/init/model.safetensors" ]; then
  "$R1" train init --arch qwen2 --tokenizer "$WORK/tokenizer" --hidden 192 --layers 4 \
    --heads 6 --kv-heads 2 --intermediate 512 --max-position 512 --seed 1 --out "$WORK/init"
fi
RESUME=""
if [ -d "$WORK/sft/checkpoints" ]; then RESUME="--resume"; fi
"$R1" train sft -m "$WORK/init" --data "$WORK/train.jsonl" --eval-data "$WORK/val.jsonl" \
  --out "$WORK/sft" --seq-len 384 --batch-tokens 4096 --epochs 1 --lr 2e-3 --warmup 100 \
  --eval-every 250 --save-every 250 --log-every 25 --threads "$THREADS" $RESUME

mkdir -p "$OUT"
for f in config.json generation_config.json model.safetensors tokenizer.json \
         tokenizer_config.json loss.svg; do
  cp "$WORK/sft/$f" "$OUT/$f"
done
"$R1" eval -m "$OUT" --data "$ROOT/tests/fixtures/arith/heldout-500.jsonl" --task math -k 1 \
  --temperature 0 -n 400 --batch 32 --out "$WORK/eval-heldout" --threads "$THREADS"
