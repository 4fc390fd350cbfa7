#!/usr/bin/env bash
# Distillation vs RL for a small student, as in R1's section 4.1 at small scale.
#   Teacher: the best RL model (default: recipes/r1-pipeline's final model; TEACHER=DIR to choose).
#   Student: a new, smaller Qwen2 (hidden 128, 3 layers) pretrained on the same plain text as the
#            R1-Zero base (recipes/r1-zero builds that text).
#   A. distillation: the teacher answers training problems (k samples each, rejection sampling keeps
#      verified-correct, readable replies), the student base is fine-tuned on them (SFT);
#   B. RL: GRPO on the student base with R1-Zero's template and the accuracy reward, given at least
#      the wall time that A's SFT took (B1), then as long as A's SFT and the teacher's sampling
#      together (B2); run in chunks of CHUNK steps until it has had that long.
# Both students: held-out pass@1, cons@16 and length (200 test-split problems, 16 samples at
# temperature 0.6), each asked the way it was trained (A: chat template, B: R1-Zero prompt).
#
# usage: recipes/distill/run.sh [WORK_DIR]   (default /tmp/r1-distill-work; THREADS=2)
# Each stage is skipped when its output exists, so a rerun continues.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/recipes/distill"
R1="${R1:-$ROOT/build/r1}"
WORK="${1:-/tmp/r1-distill-work}"
ZERO_WORK="${ZERO_WORK:-/tmp/r1-zero-work}"
PIPELINE_WORK="${PIPELINE_WORK:-/tmp/r1-pipeline-work}"
TEACHER="${TEACHER:-$PIPELINE_WORK/4-final-rl}"
THREADS="${THREADS:-2}"
CHUNK="${CHUNK:-5}"
if [ ! -f "$TEACHER/config.json" ]; then
  echo "no teacher at $TEACHER: run recipes/r1-pipeline/run.sh first, or set TEACHER=DIR" >&2
  exit 2
fi
if [ ! -f "$ZERO_WORK/pretrain.jsonl" ]; then
  BASE_ONLY=1 "$ROOT/recipes/r1-zero/run.sh" "$ZERO_WORK"
fi
mkdir -p "$WORK"
cd "$WORK"
start=$(date +%s)
now() { date +%s; }
if [ ! -f rl-train.jsonl ]; then
  "$R1" tasks arithmetic --split train --format eval --n 20000 --seed 41 --out rl-train.jsonl
  cp "$ZERO_WORK/heldout.jsonl" heldout.jsonl
fi

# The student base: pretraining on the R1-Zero base's plain text.
if [ ! -f student-init/model.safetensors ]; then
  "$R1" train init --arch qwen2 --tokenizer "$ZERO_WORK/tokenizer" --hidden 128 --layers 3 \
    --heads 4 --kv-heads 2 --intermediate 384 --max-position 512 --seed 2 --out student-init
fi
if [ ! -f student-base/model.safetensors ]; then
  RESUME=""
  if [ -d student-base/checkpoints ]; then RESUME="--resume"; fi
  "$R1" train pretrain -m student-init --data "$ZERO_WORK/pretrain.jsonl" \
    --eval-data "$ZERO_WORK/preval.jsonl" --out student-base --seq-len 384 --batch-tokens 4096 \
    --epochs 1 --lr 3e-3 --warmup 50 --eval-every 250 --save-every 250 --log-every 50 \
    --threads "$THREADS" $RESUME
fi

# A. Distillation: teacher traces (rejection sampled), then SFT of the student base.
if [ ! -f traces.jsonl ]; then
  t0=$(now)
  "$R1" train rejection-sample -m "$TEACHER" --task math --data rl-train.jsonl --limit 3000 -k 4 \
    --keep-per-problem 1 -n 256 --temperature 1 --seed 3 --out traces.jsonl --threads "$THREADS"
  echo $(( $(now) - t0 )) > teacher.seconds
fi
if [ ! -f distilled/model.safetensors ]; then
  t0=$(now)
  "$R1" train sft -m student-base --data traces.jsonl --out distilled --epochs 3 --lr 2e-3 \
    --warmup 10 --seq-len 384 --batch-tokens 4096 --log-every 20 --threads "$THREADS"
  echo $(( $(now) - t0 )) > sft.seconds
fi

# B. RL on the student base, in chunks of CHUNK steps, until it has had as much wall time as A's
# SFT (B1), then until it has had as much as A's SFT and the teacher's sampling together (B2).
rl_until() {  # seconds, then copies the newest checkpoint (a model folder) to $2
  local spent=0 done_steps RESUME t0
  if [ -f rl.seconds ]; then spent=$(cat rl.seconds); fi
  while [ "$spent" -lt "$1" ]; do
    done_steps=0
    RESUME=""
    if [ -d rl/checkpoints ]; then
      done_steps=$(ls rl/checkpoints | sed -n 's/^step-0*//p' | sort -n | tail -n1)
      RESUME="--resume"
    fi
    t0=$(now)
    "$R1" train grpo -m student-base --task math --data rl-train.jsonl --prompt-style r1-zero \
      --out rl --steps 1000 --stop-after $(( done_steps + CHUNK )) --save-every "$CHUNK" \
      --keep 1 --group 8 --prompts 8 --max-tokens 192 --temperature 1 --lr 1e-4 --beta 0.001 \
      --log-every 5 --seed 1 --threads "$THREADS" $RESUME
    spent=$(( spent + $(now) - t0 ))
    echo "$spent" > rl.seconds
  done
  if [ ! -f "$2/model.safetensors" ]; then
    rm -rf "$2"
    cp -r "rl/checkpoints/$(ls rl/checkpoints | sort | tail -n1)" "$2"
    echo "$spent" > "$2.seconds"
  fi
}
rl_until "$(cat sft.seconds)" rl-sft-time
rl_until $(( $(cat sft.seconds) + $(cat teacher.seconds) )) rl-total-time

evaluate() {  # name model [prompt style]
  if [ ! -f "eval-$1/summary.json" ]; then
    "$R1" eval -m "$2" --data heldout.jsonl --task math -k 16 --temperature 0.6 -n 256 \
      --batch 64 --prompt-style "$3" --out "eval-$1" --threads "$THREADS" >/dev/null
  fi
}
evaluate teacher "$TEACHER" chat
evaluate student-base student-base r1-zero
evaluate distilled distilled chat
evaluate rl-sft-time rl-sft-time r1-zero
evaluate rl-total-time rl-total-time r1-zero

python3 - "$HERE/results.md" "$(( $(now) - start ))" <<'PY'
import json, os, sys
def s(name):
    return json.load(open(f"eval-{name}/summary.json"))
def secs(name):
    return int(open(f"{name}.seconds").read()) if os.path.exists(f"{name}.seconds") else 0
traces = sum(1 for _ in open("traces.jsonl"))
def steps(name):
    return json.load(open(f"{name}/trainer_state.json"))["step"]
rows = [("teacher (recipes/r1-pipeline final model)", "teacher", "chat", ""),
        ("student base (plain-text pretraining)", "student-base", "R1-Zero", ""),
        (f"A. student SFT on {traces} teacher traces", "distilled", "chat", f"{secs('sft')} s SFT"),
        (f"B1. student GRPO, {steps('rl-sft-time')} steps", "rl-sft-time", "R1-Zero",
         f"{secs('rl-sft-time')} s RL"),
        (f"B2. student GRPO, {steps('rl-total-time')} steps", "rl-total-time", "R1-Zero",
         f"{secs('rl-total-time')} s RL")]
out = ["# Distillation vs RL for a small student: results", "",
       "Held-out: 200 test-split arithmetic problems, 16 samples each at temperature 0.6.",
       "Student: Qwen2, hidden 128, 3 layers; teacher: hidden 192, 4 layers.", "",
       "| model | prompt | pass@1 | cons@16 | pass@16 | mean response tokens | student training time |",
       "|---|---|---|---|---|---|---|"]
for label, d, prompt, t in rows:
    e = s(d)
    out.append(f"| {label} | {prompt} | {100 * e['pass@1']:.1f} | {100 * e['cons@16']:.1f} | "
               f"{100 * e.get('pass@16', float('nan')):.1f} | {e['mean_tokens']:.0f} | {t} |")
a, b1, b2 = s("distilled")["pass@1"], s("rl-sft-time")["pass@1"], s("rl-total-time")["pass@1"]
def verdict(b, what):
    winner = "distillation" if a > b else "RL"
    return f"{winner} wins by {100 * abs(a - b):.1f} points of pass@1 {what}."
out += ["", "Same student training time (teacher sampling not counted): " +
        verdict(b1, f"(B1 had {secs('rl-sft-time')} s, A's SFT {secs('sft')} s)"),
        "RL also given the teacher's sampling time: " +
        verdict(b2, f"(B2 had {secs('rl-total-time')} s; teacher sampling {secs('teacher')} s + SFT)"),
        f"Wall time of this run: {int(sys.argv[2]) // 60} min (stages skipped on a rerun are not counted)."]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
