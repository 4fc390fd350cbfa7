#!/usr/bin/env bash
# Reproduces models/r1-arith, the bundled default model, with r1 alone. R1's recipe at the bundled
# model's budget: a large supervised cold start on long reasoning traces, then reasoning RL.
#   1. procedurally generated SFT data (r1 tasks arithmetic: column-method worked solutions in
#      R1's <think> ... </think> then \boxed{} shape; the test split is never generated here),
#      a byte-level BPE tokenizer trained on it (R1 special tokens, R1-Distill chat template taken
#      from models/r1-tiny-random), a new Qwen2 (r1 train init) and SFT on 200,000 problems of
#      addition, subtraction, multiplication and word problems (stage1/);
#   2. SFT on 80,000 problems of every kind, including what a person types: negative results
#      ("95 - 187"), short division, 3x3-digit products, expressions with parentheses, with
#      ×, *, x, ÷ and / (stage2/; context raised to 1024 for the long 3x3-digit traces);
#   3. GRPO (r1 train grpo): accuracy + format rewards, 8 samples per problem, on training
#      problems of every kind (stage3/).
# Then it measures accuracy on the held-out sets (tests/fixtures/arith/heldout-500.jsonl, the four
# original kinds, and heldout-wide.jsonl, every kind) with greedy decoding.
#
# usage: recipes/r1-arith/train.sh [WORK_DIR] [OUT_DIR]
#   WORK_DIR (default /tmp/r1-arith-work) receives data, checkpoints and logs;
#   OUT_DIR (default models/r1-arith) receives the final model folder.
# Interrupted? Run it again: finished stages are skipped, a running one continues from its newest
# checkpoint (--resume). Deterministic: same r1 build, same thread count -> same model.
# Time on 2 cores: about 55 minutes for stage 1, 32 for stage 2, 20 for stage 3.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
R1="${R1:-$ROOT/build/r1}"
WORK="${1:-/tmp/r1-arith-work}"
OUT="${2:-$ROOT/models/r1-arith}"
THREADS="${THREADS:-2}"
RL_STEPS="${RL_STEPS:-100}"
STAGES="${STAGES:-3}"  # STAGES=1 stops after stage 1
WIDE=add,sub,mul,word,neg,div,mul3=2,expr=2
mkdir -p "$WORK"
cd "$WORK"
resume() { if [ -d "$1/checkpoints" ]; then echo --resume; fi; }

# Stage 1.
if [ ! -f train.jsonl ]; then
  "$R1" tasks arithmetic --split train --format sft --n 200000 --seed 1 --bare-fraction 0.3 \
    --out train.jsonl
  "$R1" tasks arithmetic --split train --format sft --n 1000 --seed 2 --out val.jsonl
fi
if [ ! -f tokenizer/tokenizer.json ]; then
  "$R1" train tokenizer --corpus train.jsonl --vocab-size 512 --special r1 \
    --template-from "$ROOT/models/r1-tiny-random" --out tokenizer
fi
if [ ! -f init/model.safetensors ]; then
  "$R1" train init --arch qwen2 --tokenizer tokenizer --hidden 192 --layers 4 \
    --heads 6 --kv-heads 2 --intermediate 512 --max-position 512 --seed 1 --out init
fi
if [ ! -f stage1/model.safetensors ]; then
  "$R1" train sft -m init --data train.jsonl --eval-data val.jsonl --out stage1 --seq-len 384 \
    --batch-tokens 4096 --epochs 1 --lr 2e-3 --warmup 100 --eval-every 250 --save-every 250 \
    --log-every 25 --threads "$THREADS" $(resume stage1)
fi

FINAL=stage1
if [ "$STAGES" -ge 2 ]; then
# Stage 2: every kind; the 3x3-digit traces run to ~560 tokens, so the context grows to 1024.
if [ ! -f train-wide.jsonl ]; then
  "$R1" tasks arithmetic --split train --format sft --n 80000 --seed 3 --bare-fraction 0.3 \
    --kinds "$WIDE" --out train-wide.jsonl
  "$R1" tasks arithmetic --split train --format sft --n 1000 --seed 4 --kinds "$WIDE" \
    --out val-wide.jsonl
  "$R1" tasks arithmetic --split train --format eval --n 20000 --seed 5 --kinds "$WIDE" \
    --out rl-wide.jsonl
fi
if [ ! -f stage1-ctx1024/model.safetensors ]; then
  rm -rf stage1-ctx1024 && mkdir stage1-ctx1024
  cp stage1/model.safetensors stage1/tokenizer.json stage1/tokenizer_config.json \
    stage1/generation_config.json stage1-ctx1024/
  python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); c["max_position_embeddings"] = 1024; json.dump(c, open(sys.argv[2], "w"), indent=2)' \
    stage1/config.json stage1-ctx1024/config.json
fi
if [ ! -f stage2/model.safetensors ]; then
  "$R1" train sft -m stage1-ctx1024 --data train-wide.jsonl --eval-data val-wide.jsonl \
    --out stage2 --seq-len 640 --batch-tokens 4096 --epochs 1 --lr 1e-3 --warmup 50 \
    --eval-every 250 --save-every 250 --log-every 25 --threads "$THREADS" $(resume stage2)
fi

# Stage 3: reasoning RL on every kind.
if [ ! -f stage3/model.safetensors ]; then
  "$R1" train grpo -m stage2 --task math --data rl-wide.jsonl --out stage3 --steps "$RL_STEPS" \
    --group 8 --prompts 16 --max-tokens 640 --temperature 1 --lr 2e-5 --beta 0.001 \
    --format-weight 0.1 --save-every 20 --log-every 5 --seed 1 --threads "$THREADS" \
    $(resume stage3)
fi
FINAL=stage3
fi

mkdir -p "$OUT"
for f in config.json generation_config.json model.safetensors tokenizer.json \
         tokenizer_config.json; do
  cp "$FINAL/$f" "$OUT/$f"
done
cp stage1/loss.svg "$OUT/loss-stage1.svg"
if [ "$FINAL" = stage3 ]; then
  cp stage2/loss.svg "$OUT/loss-stage2.svg"
  cp stage3/reward.svg "$OUT/reward-stage3.svg"
fi
for set in heldout-500 heldout-wide; do
  "$R1" eval -m "$OUT" --data "$ROOT/tests/fixtures/arith/$set.jsonl" --task math -k 1 \
    --temperature 0 -n 800 --batch 32 --out "eval-$set" --threads "$THREADS"
done
