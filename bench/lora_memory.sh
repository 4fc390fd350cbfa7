#!/usr/bin/env bash
# One GRPO step with LoRA on a random model shaped like R1-Distill-Qwen-1.5B (bf16 weights,
# 1.78B parameters, the real vocabulary and tokenizer): does it fit this machine, and what is its
# peak memory? Also asks for the same step as full fine-tuning, which r1 refuses up front when the
# machine cannot hold it (fp32 master weights, gradients and Adam moments: 16 bytes a parameter).
#
# usage: bench/lora_memory.sh [WORK_DIR]   (default /tmp/r1-lora-memory; needs python3-torch to
#        write the model once, 3.6 GB; THREADS=2, GROUP=4, PROMPTS=2, MAX_TOKENS=128, RANK=16)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
R1="${R1:-$ROOT/build/r1}"
WORK="${1:-/tmp/r1-lora-memory}"
THREADS="${THREADS:-2}"
GROUP="${GROUP:-4}"
PROMPTS="${PROMPTS:-2}"
MAX_TOKENS="${MAX_TOKENS:-128}"
RANK="${RANK:-16}"
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f q1.5b/model.safetensors ]; then
  "${PYTHON:-/usr/bin/python3}" "$ROOT/tools/reference/make_random_model.py" --shape qwen1.5b --dtype bf16 --out q1.5b
fi
"$R1" tasks arithmetic --split train --format eval --n 64 --seed 5 --out problems.jsonl
grep -m1 "model name" /proc/cpuinfo || true
echo "memory limit: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"

peak() {  # label, then the command; prints the peak resident set size from GNU time
  local label="$1"
  shift
  rm -rf out
  set +e
  /usr/bin/time -f "%M %e" -o time.txt "$@" > log.txt 2>&1
  local rc=$?
  set -e
  read -r kb secs < <(tail -n1 time.txt)
  printf '%-34s exit %d  peak RSS %6.2f GiB  wall %5.0f s\n' "$label" "$rc" \
    "$(echo "$kb / 1048576" | bc -l)" "$secs"
  grep -E "^step|error|needs" log.txt | head -n 3 | sed 's/^/    /'
}
common=(train grpo -m q1.5b --task math --data problems.jsonl --out out --steps 1
  --group "$GROUP" --prompts "$PROMPTS" --max-tokens "$MAX_TOKENS" --temperature 1 --lr 1e-4
  --beta 0.04 --log-every 1 --seed 1 --threads "$THREADS")
peak "GRPO step, LoRA rank $RANK (q,k,v,o)" "$R1" "${common[@]}" --lora-rank "$RANK" \
  --lora-targets q_proj,k_proj,v_proj,o_proj
peak "GRPO step, LoRA rank $RANK (all 7)" "$R1" "${common[@]}" --lora-rank "$RANK"
peak "GRPO step, full fine-tuning" "$R1" "${common[@]}"
