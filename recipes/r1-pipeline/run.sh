#!/usr/bin/env bash
# DeepSeek-R1's four stages at small scale, from the same plain-text base model as R1-Zero
# (recipes/r1-zero builds it; this script builds it too when it is missing):
#   1. cold start: SFT of the base on a few hundred long reasoning traces in R1's format
#      (<think> column method </think> then \boxed{}), r1 tasks arithmetic --format sft;
#   2. reasoning RL: GRPO with the chat template, accuracy + format rewards;
#   3. rejection sampling from the RL model (k samples per problem, verified-correct and readable
#      replies kept), then SFT of the *base* on those traces (plus the cold-start ones);
#   4. final RL: GRPO again from the stage-3 model.
# After every stage: held-out pass@1 and cons@16 (200 test-split problems, 16 samples each at
# temperature 0.6) and mean response length, in results.md here.
#
# usage: recipes/r1-pipeline/run.sh [WORK_DIR]   (default /tmp/r1-pipeline-work; THREADS=2)
# Each stage is skipped when its output exists, so a rerun continues.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/recipes/r1-pipeline"
R1="${R1:-$ROOT/build/r1}"
WORK="${1:-/tmp/r1-pipeline-work}"
ZERO_WORK="${ZERO_WORK:-/tmp/r1-zero-work}"
THREADS="${THREADS:-2}"
RL_STEPS="${RL_STEPS:-60}"
mkdir -p "$WORK"
start=$(date +%s)
if [ ! -f "$ZERO_WORK/base/model.safetensors" ]; then
  BASE_ONLY=1 "$ROOT/recipes/r1-zero/run.sh" "$ZERO_WORK"
fi
BASE="$ZERO_WORK/base"
cd "$WORK"
if [ ! -f cold.jsonl ]; then
  "$R1" tasks arithmetic --split train --format sft --n 300 --seed 31 --out cold.jsonl
  "$R1" tasks arithmetic --split train --format eval --n 20000 --seed 32 --out rl-train.jsonl
  cp "$ZERO_WORK/heldout.jsonl" heldout.jsonl
fi
evaluate() {  # name model
  if [ ! -f "eval-$1/summary.json" ]; then
    "$R1" eval -m "$2" --data heldout.jsonl --task math -k 16 --temperature 0.6 -n 256 \
      --batch 64 --out "eval-$1" --threads "$THREADS" >/dev/null
  fi
}
sft() {  # out base data epochs
  if [ ! -f "$1/model.safetensors" ]; then
    "$R1" train sft -m "$2" --data "$3" --out "$1" --epochs "$4" --lr 1e-3 --warmup 10 \
      --seq-len 384 --batch-tokens 4096 --log-every 20 --threads "$THREADS"
  fi
}
grpo() {  # out model
  RESUME=""
  if [ -d "$1/checkpoints" ]; then RESUME="--resume"; fi
  if [ ! -f "$1/model.safetensors" ]; then
    "$R1" train grpo -m "$2" --task math --data rl-train.jsonl --out "$1" --steps "$RL_STEPS" \
      --group 8 --prompts 8 --max-tokens 256 --temperature 1 --lr 1e-4 --beta 0.001 \
      --format-weight 0.1 --save-every 20 --log-every 10 --seed 1 --threads "$THREADS" $RESUME
  fi
}
evaluate 0-base "$BASE"
sft 1-cold "$BASE" cold.jsonl 10
evaluate 1-cold 1-cold
grpo 2-rl 1-cold
evaluate 2-rl 2-rl
if [ ! -f rejection.jsonl ]; then
  "$R1" train rejection-sample -m 2-rl --task math --data rl-train.jsonl --limit 2000 -k 4 \
    --keep-per-problem 1 -n 256 --temperature 1 --out rejection.jsonl --threads "$THREADS"
  cat cold.jsonl >> rejection.jsonl
fi
sft 3-rejection-sft "$BASE" rejection.jsonl 2
evaluate 3-rejection-sft 3-rejection-sft
grpo 4-final-rl 3-rejection-sft
evaluate 4-final-rl 4-final-rl
cp 4-final-rl/reward.svg "$HERE/final-rl-reward.svg"
cp 2-rl/reward.svg "$HERE/reasoning-rl-reward.svg"
python3 - "$HERE/results.md" "$(( $(date +%s) - start ))" "$(wc -l < rejection.jsonl)" <<'PY'
import json, sys
names = [("0-base", "base (plain-text pretraining)"), ("1-cold", "1. cold-start SFT (300 traces)"),
         ("2-rl", "2. reasoning RL"), ("3-rejection-sft", "3. rejection sampling -> SFT of the base"),
         ("4-final-rl", "4. final RL")]
out = ["# R1's pipeline at small scale: results", "",
       "Held-out: 200 test-split arithmetic problems, 16 samples each at temperature 0.6, chat",
       "template (the base model, which has no chat format, is asked the same way).", "",
       "| stage | pass@1 | cons@16 | pass@16 | mean response tokens |", "|---|---|---|---|---|"]
for d, label in names:
    s = json.load(open(f"eval-{d}/summary.json"))
    p16 = dict((int(k.split("@")[1]), v) for k, v in s.items() if k.startswith("pass@") and k != "pass@1")
    out.append(f"| {label} | {100 * s['pass@1']:.1f} | {100 * s['cons@16']:.1f} | "
               f"{100 * p16.get(16, float('nan')):.1f} | {s['mean_tokens']:.0f} |")
out += ["", f"Rejection sampling kept {int(sys.argv[3]) - 300} verified traces (plus the 300 cold-start ones).",
        f"Wall time of this run: {int(sys.argv[2]) // 60} min (stages skipped on a rerun are not counted)."]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
