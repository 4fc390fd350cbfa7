#!/usr/bin/env bash
# Does llama.cpp run the GGUF files r1 writes the way r1 runs the checkpoint? For each model and
# type: `r1 convert` / `r1 quantize` writes the GGUF; llama.cpp (node-llama-cpp's prebuilt CPU
# build, from npm) loads it, tokenizes each prompt with the file's tokenizer metadata and decodes
# greedily from r1's prompt ids; r1 decodes the same prompt greedily from the Hugging Face folder
# (with --quantize T for the quantized files: q8_0, q4_k_m, q4_0). Prints, per file and prompt, whether the two
# tokenizations are equal and how many of the greedy tokens agree before the first difference.
#
# Models: the bundled r1-arith (Qwen2; chat prompts through its template) and a Llama folder made
# of tests/fixtures/models/llama-bf16-sharded (random weights, q/k/v biases, 8 heads / 2 kv) with
# a tokenizer r1 trains on README.md (raw-text prompts, BOS added as its config asks). Its
# intermediate size (120) is not a multiple of 32 (a Q8_0 file would hold its down projections
# as F16), so it runs as f32 and bf16. Then two more random
# Llama fixtures: Llama 3.1's rope scaling (llama-llama3rope-f32) and mlp_bias (llama-mlpbias-f32).
# Last, DeepSeek-V3 as llama.cpp's deepseek2 (tests/fixtures/models/dsv3-bf16: MLA with q_lora,
# 8 routed experts in 4 groups of which 3 are used, a shared expert, yarn rope); for it r1 decodes
# from the GGUF file itself (R1_FROM_FILE), whose quantized files split kv_b and fall back to F16
# where rows are not whole blocks as llama.cpp's quantizer does, unlike --quantize in memory.
#
# Usage: bench/gguf_vs_llamacpp.sh [TOKENS]      (default 64 greedy tokens per prompt)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-64}
R1=build/r1
[ -x "$R1" ] || { echo "build r1 first (scripts/build.sh)" >&2; exit 1; }
[ -d bench/llamacpp/node_modules/node-llama-cpp ] || npm install --prefix bench/llamacpp --no-audit --no-fund >&2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# the Llama folder
mkdir -p "$TMP/llama"
cp tests/fixtures/models/llama-bf16-sharded/{config.json,model.safetensors.index.json,*.safetensors} "$TMP/llama/"
"$R1" train tokenizer --corpus README.md --vocab-size 380 --out "$TMP/tok" > /dev/null 2>&1
cp "$TMP/tok"/* "$TMP/llama/"

bos_of() {  # the BOS id when tokenizer_config.json asks for one, else nothing
  python3 - "$1" <<'PY'
import json, sys
d = sys.argv[1]
c = json.load(open(f"{d}/tokenizer_config.json"))
t = json.load(open(f"{d}/tokenizer.json"))
if c.get("add_bos_token") and c.get("bos_token"):
    name = c["bos_token"] if isinstance(c["bos_token"], str) else c["bos_token"]["content"]
    print(next(a["id"] for a in t["added_tokens"] if a["content"] == name))
PY
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $N greedy tokens per prompt"
printf '%-28s %-34s %-10s %s\n' "file" "prompt" "tokenize" "greedy tokens equal"
run() {  # model-dir label chat(0/1) type prompt...
  local dir=$1 label=$2 chat=$3 type=$4
  shift 4
  local gguf="$TMP/$label-$type.gguf" quant=()
  if [ "$type" = q8_0 ] || [ "$type" = q4_k_m ] || [ "$type" = q4_0 ]; then
    "$R1" quantize -m "$dir" --type "$type" --out "$gguf" 2> /dev/null
    quant=(--quantize "$type")
  else
    "$R1" convert -m "$dir" --type "$type" --out "$gguf" 2> /dev/null
  fi
  local bos
  bos=$(bos_of "$dir")
  for prompt in "$@"; do
    if [ "$chat" = 1 ]; then
      python3 -c 'import json, sys; print(json.dumps({"messages": [{"role": "user", "content": sys.argv[1]}]}))' "$prompt" |
        "$R1" template -m "$dir" > "$TMP/prompt.txt"
      bos=""
    else
      printf '%s' "$prompt" > "$TMP/prompt.txt"
    fi
    local ids r1_out ll
    ids=$("$R1" tokenize -m "$dir" < "$TMP/prompt.txt")
    [ -n "$bos" ] && ids="[$bos,${ids:1}"
    if [ -n "${R1_FROM_FILE:-}" ]; then
      r1_out=$(R1_CACHE_DIR="$TMP/cache" "$R1" generate -m "$gguf" -n "$N" --temperature 0 --json < "$TMP/prompt.txt" 2> /dev/null)
    else
      r1_out=$("$R1" generate -m "$dir" "${quant[@]}" -n "$N" --temperature 0 --json < "$TMP/prompt.txt" 2> /dev/null)
    fi
    ll=$(node bench/llamacpp/greedy.mjs "$gguf" "$TMP/prompt.txt" "$ids" "$N")
    python3 - "$ids" "$r1_out" "$ll" "$bos" "$label-$type.gguf" "$prompt" <<'PY'
import json, sys
ids, r1, ll, bos, name, prompt = sys.argv[1:]
ids = json.loads(ids); r1 = json.loads(r1)["tokens"]; ll = json.loads(ll)
own = ll["tokenize"]
want = ids[1:] if bos else ids
same_tok = "equal" if own == want else f"DIFFER"
agree = 0
for a, b in zip(r1, ll["greedy"]):
    if a != b: break
    agree += 1
print(f"{name:<28} {prompt[:32]!r:<34} {same_tok:<10} {agree}/{len(r1)}")
PY
  done
}
for type in f32 bf16 q8_0 q4_k_m q4_0; do
  run models/r1-arith r1-arith 1 "$type" "What is 48 + 27?" "What is 123 * 45?" "Compute 9001 - 4567."
done
for type in f32 bf16; do
  run "$TMP/llama" llama-random 0 "$type" "hello world 123
" "The quick brown fox" "r1 runs the R1 family"
done
# Llama 3.1's rope scaling (written as rope_freqs.weight) and Llama's mlp_bias (ffn biases):
# the llama-llama3rope-f32 and llama-mlpbias-f32 fixtures with tokenizers that fit their
# vocabularies (353 and 384 ids).
for fx in llama-llama3rope-f32:340 llama-mlpbias-f32:380; do
  name=${fx%%:*}
  mkdir -p "$TMP/$name"
  cp "tests/fixtures/models/$name"/{config.json,model.safetensors} "$TMP/$name/"
  "$R1" train tokenizer --corpus README.md --vocab-size "${fx##*:}" --out "$TMP/$name" > /dev/null 2>&1
  run "$TMP/$name" "$name" 0 f32 "hello world 123
" "The quick brown fox" "r1 runs the R1 family"
done
mkdir -p "$TMP/dsv3"
cp tests/fixtures/models/dsv3-bf16/{config.json,model.safetensors} "$TMP/dsv3/"
"$R1" train tokenizer --corpus README.md --vocab-size 280 --out "$TMP/dsv3" > /dev/null 2>&1
for type in f32 bf16 q8_0 q4_k_m; do
  R1_FROM_FILE=1 run "$TMP/dsv3" dsv3-random 0 "$type" "hello world 123
" "The quick brown fox" "r1 runs the R1 family"
done
