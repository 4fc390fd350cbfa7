#!/usr/bin/python3
"""PyTorch eager baseline for the dense (Qwen2/Llama) engine: prefill and decode tokens/s.

Runs tools/reference/dense.py in "native" mode: the checkpoint's own dtype end to end (a bf16
model runs bf16 matmuls, as a PyTorch user would run it), weights memory-mapped, a KV cache for
decode, batch 1, greedy.

  bench/torch_dense.py -m DIR [--prompt-tokens P] [--gen-tokens G] [--threads T] [--seed S]

Procedure: load (mmap), warm up (a short prefill plus two decode steps, which reads every weight
page: the machine reclaims file pages idle for a minute, so each run must warm up itself), then
  prefill: one forward over P random prompt ids, logits for the last token only;
  decode:  G greedy steps, one token each, with the KV cache.
Prints one JSON line:
  {"impl":"torch","dtype":..,"compute_dtype":..,"threads":..,"prompt_tokens":P,"gen_tokens":G,
   "prefill_tok_s":..,"decode_tok_s":..,"load_s":..,"warmup_s":..}
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import dense  # noqa: E402
import safetensors_io  # noqa: E402

DTYPE_NAMES = {torch.float32: "f32", torch.bfloat16: "bf16", torch.float16: "f16"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--gen-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.prompt_tokens < 1 or args.gen_tokens < 1 or args.threads < 1:
        print("error: --prompt-tokens, --gen-tokens and --threads must be >= 1", file=sys.stderr)
        sys.exit(2)
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)

    t0 = time.perf_counter()
    cfg = dense.Config.load(args.model)
    model = dense.DenseModel(cfg, safetensors_io.mmap_folder(args.model), mode="native")
    load_s = time.perf_counter() - t0

    g = torch.Generator().manual_seed(args.seed)
    prompt = torch.randint(0, cfg.vocab_size, (args.prompt_tokens,), generator=g).tolist()
    max_len = args.prompt_tokens + args.gen_tokens + 1

    # Warm-up: touches every weight (all layers, embedding rows used, lm_head) and the kernels.
    t0 = time.perf_counter()
    cache = dense.KVCache(cfg, 16, model.compute_dtype)
    tok = int(model.forward(prompt[:8], cache, last_only=True)[-1].argmax())
    for _ in range(2):
        tok = int(model.forward([tok], cache, last_only=True)[-1].argmax())
    warmup_s = time.perf_counter() - t0

    cache = dense.KVCache(cfg, max_len, model.compute_dtype)
    t0 = time.perf_counter()
    logits = model.forward(prompt, cache, last_only=True)
    tok = int(logits[-1].argmax())
    prefill_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in range(args.gen_tokens):
        tok = int(model.forward([tok], cache, last_only=True)[-1].argmax())
    decode_s = time.perf_counter() - t0

    print(json.dumps({
        "impl": "torch",
        "dtype": DTYPE_NAMES[model.stored_dtype],
        "compute_dtype": DTYPE_NAMES[model.compute_dtype],  # f16 runs in f32: torch 1.13 has no CPU f16 matmul
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "gen_tokens": args.gen_tokens,
        "prefill_tok_s": round(args.prompt_tokens / prefill_s, 3),
        "decode_tok_s": round(args.gen_tokens / decode_s, 3),
        "load_s": round(load_s, 3),
        "warmup_s": round(warmup_s, 3),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
