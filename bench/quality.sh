#!/usr/bin/env bash
# Quality of every weight format and compute path, measured on two models with structure:
#   r1-arith   the bundled model, on held-out arithmetic problems with worked solutions
#              (`r1 tasks arithmetic --split test --format text`);
#   text-3.6M  a Qwen2 model r1 trains here on real text (MATH-500 problems and solutions and the
#              first 1,000 GSM8K test problems with their solutions: hidden 256, 4 layers, a 2,048-id
#              BPE learned on the same text, 3 epochs, about 5 minutes on 2 cores), on held-out
#              text (the last 319 GSM8K test problems and solutions).
#   text-moe   a DeepSeek-V3-architecture model trained the same way on the same text (MLA with
#              q_lora 128 / kv_lora 64, 8 routed experts of which 2 per token plus a shared one,
#              sigmoid routing with its bias, the first layer dense), so that quantizing experts,
#              router inputs and MLA is measured on a model whose routing means something.
# For each: `r1 bench --quality` (mean / 99% KL from the exact f32 path, top-1 agreement,
# perplexity; llama.cpp's perplexity --kl-divergence method) for bf16, bf16-fast, q8_0,
# q8_0-fast, q4_k_m, q4_k_m-fast, q4_0 (-fast: with bf16 dot products, which quantized weights
# use for 48 or more rows where the CPU has them); then, for the two Qwen2 models, on bf16
# copies, r1's bf16 dot products against PyTorch's bf16 inference (bench/quality_vs_torch.py,
# needs python3-torch); last, text-moe stored as DeepSeek's fp8 checkpoints are, scored one token
# at a time (--decode), where fp8 weights take bf16 dot products.
#
# Usage: bench/quality.sh [--tokens 4096] [--window 512]
# Environment: R1_BENCH_DIR (default /tmp/r1bench-quality), R1_BIN (default build/r1),
#              PYTHON (default /usr/bin/python3, Debian's, with torch).
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENS=4096; WINDOW=512
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tokens) TOKENS="$2"; shift 2 ;;
    --window) WINDOW="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
DIR="${R1_BENCH_DIR:-/tmp/r1bench-quality}"
R1_BIN="${R1_BIN:-build/r1}"
PYTHON="${PYTHON:-/usr/bin/python3}"
mkdir -p "$DIR"

"$PYTHON" - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
m = [json.loads(l) for l in open("data/math500.jsonl")]
g = [json.loads(l) for l in open("data/gsm8k_test.jsonl")]
with open(f"{d}/train.jsonl", "w") as f:
    for r in m:
        f.write(json.dumps({"text": r["problem"] + "\n\n" + r["solution"]}) + "\n")
    for r in g[:1000]:
        f.write(json.dumps({"text": r["question"] + "\n\n" + r["answer"]}) + "\n")
with open(f"{d}/heldout.jsonl", "w") as f:
    for r in g[1000:]:
        f.write(json.dumps({"text": r["question"] + "\n\n" + r["answer"]}) + "\n")
PY
"$R1_BIN" tasks arithmetic --split test --format text --worked-fraction 1 --n 400 --seed 7 \
  --out "$DIR/arith-test.jsonl"

TEXT_MODEL="$DIR/text-3.6M"
if [ ! -f "$TEXT_MODEL/model.safetensors" ]; then
  "$R1_BIN" train tokenizer --corpus "$DIR/train.jsonl" --vocab-size 2048 --out "$DIR/tok" >&2
  rm -rf "$DIR/init"
  "$R1_BIN" train init --tokenizer "$DIR/tok" --out "$DIR/init" --hidden 256 --layers 4 \
    --heads 4 --kv-heads 2 --intermediate 768 --max-position 1024 --seed 1 >&2
  "$R1_BIN" train pretrain -m "$DIR/init" --data "$DIR/train.jsonl" --out "$TEXT_MODEL" \
    --seq-len 512 --batch-tokens 8192 --epochs 3 --lr 3e-3 --log-every 20 >&2
fi

MOE_MODEL="$DIR/text-moe"
if [ ! -f "$MOE_MODEL/model.safetensors" ]; then
  rm -rf "$DIR/init-moe"
  "$R1_BIN" train init --arch deepseek_v3 --tokenizer "$DIR/tok" --out "$DIR/init-moe" \
    --hidden 256 --layers 4 --heads 4 --intermediate 768 --max-position 1024 --seed 1 \
    --q-lora-rank 128 --kv-lora-rank 64 --qk-nope-head-dim 32 --qk-rope-head-dim 32 \
    --v-head-dim 32 --experts 8 --experts-per-token 2 --shared-experts 1 \
    --moe-intermediate 256 --first-dense-layers 1 >&2
  "$R1_BIN" train pretrain -m "$DIR/init-moe" --data "$DIR/train.jsonl" --out "$MOE_MODEL" \
    --seq-len 512 --batch-tokens 8192 --epochs 3 --lr 3e-3 --log-every 20 >&2
fi

# Copies of a model folder as another checkpoint would store it: copy_as bf16 SRC DST rounds every
# tensor to bf16 (as a bf16 checkpoint on the Hub is stored); copy_as fp8 SRC DST stores the
# DeepSeek-V3-architecture model as DeepSeek's checkpoints are: every projection (*_proj.weight:
# attention, dense MLP, experts) as e4m3 codes with f32 128 x 128 block scales (scale_inv = amax
# / 448, the codes rounded to nearest, tools/reference's encoder), everything else (embeddings,
# lm_head, norms, the router) bf16 but the router's correction bias (f32).
copy_as() {
  local format=$1 src=$2 dst=$3
  [ -f "$dst/model.safetensors" ] && return 0
  mkdir -p "$dst"
  cp "$src"/*.json "$dst/"
  "$PYTHON" - "$format" "$src" "$dst" <<'PY'
import json, sys
sys.path.insert(0, "tools/reference")
import deepseek_v3 as ds, safetensors_io, torch
fmt, src, dst = sys.argv[1:4]
B = ds.BLOCK
out = {}
for name, w in safetensors_io.read_folder(src).items():
    if fmt == "fp8" and name.endswith("e_score_correction_bias"):  # f32 in DeepSeek's checkpoints
        out[name] = w.float().contiguous()
    elif fmt == "fp8" and name.endswith("_proj.weight"):
        w = w.float()
        M, N = w.shape
        sm, sn = (M + B - 1) // B, (N + B - 1) // B
        pad = torch.zeros(sm * B, sn * B)
        pad[:M, :N] = w
        scale = pad.abs().reshape(sm, B, sn, B).amax(dim=(1, 3)) / 448.0
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        s = scale.repeat_interleave(B, 0).repeat_interleave(B, 1)[:M, :N]
        out[name] = ds.fp8_e4m3_encode(w / s)
        out[name[:-len(".weight")] + ".weight_scale_inv"] = scale.contiguous()
    else:
        out[name] = w.to(torch.bfloat16).contiguous()
safetensors_io.write_file(f"{dst}/model.safetensors", out)
c = json.load(open(f"{dst}/config.json"))
c["torch_dtype"] = "bfloat16"
if fmt == "fp8":
    c["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3",
                                "quant_method": "fp8", "weight_block_size": [B, B]}
json.dump(c, open(f"{dst}/config.json", "w"), indent=2)
PY
}
copy_as bf16 models/r1-arith "$DIR/r1-arith-bf16"
copy_as bf16 "$TEXT_MODEL" "$DIR/text-3.6M-bf16"
copy_as fp8 "$MOE_MODEL" "$DIR/text-moe-fp8"

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(nproc) cores"
for pair in "models/r1-arith:$DIR/arith-test.jsonl:$DIR/r1-arith-bf16" \
            "$TEXT_MODEL:$DIR/heldout.jsonl:$DIR/text-3.6M-bf16" \
            "$MOE_MODEL:$DIR/heldout.jsonl:"; do
  IFS=: read -r model text bf16 <<< "$pair"
  echo
  echo "== $model"
  "$R1_BIN" bench -m "$model" --quality "$text" --ctx-window "$WINDOW" --quality-tokens "$TOKENS"
  [ -z "$bf16" ] && continue  # the PyTorch reference (tools/reference/dense.py) is Qwen2 / Llama
  echo
  "$PYTHON" bench/quality_vs_torch.py --model "$bf16" --text "$text" --window "$WINDOW" \
    --tokens "$TOKENS" --r1 "$R1_BIN"
done

# The fp8 copy, scored one token at a time (--decode, as generation computes it): its reference is
# the exact path over the fp8 weights; stored-fast is r1's fp8 route with bf16 dot products (for
# one row: X times the block scales rounded to bf16), bf16 / bf16-fast
# the weights times their scales rounded to bf16 (as bf16 inference dequantizes them), without /
# with X rounded too.
echo
echo "== $DIR/text-moe-fp8"
"$R1_BIN" bench -m "$DIR/text-moe-fp8" --quality "$DIR/heldout.jsonl" --decode \
  --formats stored-fast,bf16,bf16-fast,q8_0 --ctx-window "$WINDOW" --quality-tokens "$TOKENS"
