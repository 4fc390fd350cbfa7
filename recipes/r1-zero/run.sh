#!/usr/bin/env bash
# R1-Zero at small scale: reinforcement learning straight from a base model, with R1-Zero's
# template and rule rewards, and no supervised reasoning data in R1's format.
#   1. Base model: a new 1.9M-parameter Qwen2 (r1 train init, its own 1024-id BPE tokenizer)
#      pretrained on plain text: questions and replies "User: Q. Assistant: ...", a fifth of them
#      opening with R1-Zero's prompt, the replies either the bare result ("733 × 8 = 5864.") or,
#      for 30% of them, the column method written out. The model never sees a reply with <think>
#      or <answer> tags (they appear only in R1-Zero's prompt, which describes them).
#   2. GRPO (r1 train grpo --prompt-style r1-zero): the accuracy reward of the math verifier,
#      G samples per question, on training problems of the same kinds (never the held-out split).
#   3. Held-out pass@1, cons@4 and response length at the start and every EVAL_EVERY steps; the
#      table and the plots (reward.svg, length.svg) are copied here.
# What to look for (R1 paper, figures 2 and 3): accuracy and response length rising together as
# the policy learns to work the problem out instead of guessing the answer.
#
# usage: recipes/r1-zero/run.sh [WORK_DIR]       (default /tmp/r1-zero-work; THREADS=2)
# Rerunning continues: each stage is skipped when its output exists, GRPO resumes its checkpoint.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/recipes/r1-zero"
R1="${R1:-$ROOT/build/r1}"
WORK="${1:-/tmp/r1-zero-work}"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-200}"
PRETRAIN_ROWS="${PRETRAIN_ROWS:-100000}"
EVAL_EVERY="${EVAL_EVERY:-25}"
mkdir -p "$WORK"
cd "$WORK"
start=$(date +%s)

if [ ! -f pretrain.jsonl ]; then
  "$R1" tasks arithmetic --split train --format text --n "$PRETRAIN_ROWS" --seed 11 \
    --worked-fraction 0.3 --r1-zero-fraction 0.2 --out pretrain.jsonl
  "$R1" tasks arithmetic --split train --format text --n 500 --seed 12 --worked-fraction 0.3 \
    --r1-zero-fraction 0.2 --out preval.jsonl
  "$R1" tasks arithmetic --split train --format eval --n 20000 --seed 21 --out rl-train.jsonl
  "$R1" tasks arithmetic --split test --format eval --n 200 --seed 13 --out heldout.jsonl
fi
# A tokenizer of its own (byte-level BPE, 1024 ids, R1's special tokens and chat template), so that
# R1-Zero's 80-word prompt costs ~50 tokens instead of ~230 with the bundled model's 512.
if [ ! -f tokenizer/tokenizer.json ]; then
  "$R1" tasks arithmetic --split train --format sft --n 2000 --seed 14 --out tokenizer-extra.jsonl
  "$R1" train tokenizer --corpus pretrain.jsonl,tokenizer-extra.jsonl --vocab-size 1024 \
    --special r1 --template-from "$ROOT/models/r1-tiny-random" --max-bytes 16000000 --out tokenizer
fi
if [ ! -f init/model.safetensors ]; then
  "$R1" train init --arch qwen2 --tokenizer tokenizer --hidden 192 --layers 4 \
    --heads 6 --kv-heads 2 --intermediate 512 --max-position 512 --seed 1 --out init
fi
if [ ! -f base/model.safetensors ]; then
  RESUME=""
  if [ -d base/checkpoints ]; then RESUME="--resume"; fi
  "$R1" train pretrain -m init --data pretrain.jsonl --eval-data preval.jsonl --out base \
    --seq-len 384 --batch-tokens 4096 --epochs 1 --lr 2e-3 --warmup 50 --eval-every 250 \
    --save-every 250 --log-every 50 --threads "$THREADS" $RESUME
fi
if [ -n "${BASE_ONLY:-}" ]; then exit 0; fi  # recipes/r1-pipeline starts from this base
RESUME=""
if [ -d rl/checkpoints ]; then RESUME="--resume"; fi
if [ ! -f rl/model.safetensors ]; then
  "$R1" train grpo -m base --task math --data rl-train.jsonl --eval-data heldout.jsonl \
    --prompt-style r1-zero --out rl --steps "$STEPS" --group 8 --prompts 16 --max-tokens 256 \
    --temperature 1 --lr 2e-4 --beta 0.001 --eval-every "$EVAL_EVERY" --eval-k 4 \
    --eval-limit 200 --save-every "$EVAL_EVERY" --log-every 10 --seed 1 --threads "$THREADS" $RESUME
fi
cp rl/reward.svg rl/length.svg "$HERE/"
python3 - rl/train_log.jsonl "$HERE/results.md" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
evals = {r["step"]: r for r in rows if "eval_pass@1" in r}
train = {r["step"]: r for r in rows if "reward" in r}
out = ["# R1-Zero at small scale: results", "",
       "Held-out (200 test-split problems, 4 samples each at temperature 0.6, R1-Zero prompt):", "",
       "| step | pass@1 | cons@4 | mean response tokens | training reward (last step) |",
       "|---|---|---|---|---|"]
for s in sorted(evals):
    e = evals[s]
    tr = train.get(s, {}).get("reward")
    out.append(f"| {s} | {100 * e['eval_pass@1']:.1f} | {100 * e['eval_cons@k']:.1f} | "
               f"{e['eval_length']:.1f} | {'' if tr is None else f'{tr:.3f}'} |")
first, last = evals[min(evals)], evals[max(evals)]
out += ["", f"pass@1 {100 * first['eval_pass@1']:.1f} -> {100 * last['eval_pass@1']:.1f} "
        f"({100 * (last['eval_pass@1'] - first['eval_pass@1']):+.1f} points); response length "
        f"{first['eval_length']:.0f} -> {last['eval_length']:.0f} tokens.",
        f"Wall time of this run: {int(sys.argv[3]) // 60} min (stages skipped on a rerun are not counted)."]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
