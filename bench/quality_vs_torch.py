#!/usr/bin/python3
"""bf16 inference quality: r1's paths against PyTorch's on the same text and windows.

For a bf16 Qwen2/Llama folder, each side's distance from the exact path on the stored weights
(every product in f32, weights widened exactly):
  PyTorch bf16   how a PyTorch user runs the checkpoint: bf16 matmuls, norms in f32 cast back
                 (tools/reference/dense.py "native" mode);
  r1 bf16-fast   r1 --fast-bf16: linear inputs rounded to bf16, bf16 dot products, f32
                 everything else (`r1 bench --quality --formats bf16-fast`);
measured as `r1 bench --quality` does (llama.cpp's perplexity --kl-divergence method): windows of
--window tokens starting with BOS, the second half of each scored; mean and 99% KL(exact || path),
top-1 agreement, perplexity.

  /usr/bin/python3 bench/quality_vs_torch.py --model DIR --text FILE [--window 512] [--tokens 4096]

Needs python3-torch (apt-get install python3-torch) and a built r1 (build/r1).
"""
import argparse
import json
import math
import os
import subprocess
import sys

import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "reference"))
import dense  # noqa: E402


def read_text(path):
    """As r1 bench --quality reads it: .jsonl rows' "text" joined by a blank line, or the file."""
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    if not path.endswith(".jsonl"):
        return raw
    return "\n\n".join(json.loads(l)["text"] for l in raw.splitlines() if l.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--window", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--r1", default=os.path.join(REPO, "build", "r1"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    ids = json.loads(subprocess.run([a.r1, "tokenize", "-m", a.model], input=read_text(a.text),
                                    capture_output=True, text=True, check=True).stdout)
    with open(os.path.join(a.model, "tokenizer_config.json")) as f:
        tc = json.load(f)
    bos_tok = tc.get("bos_token")
    bos_tok = bos_tok.get("content") if isinstance(bos_tok, dict) else bos_tok
    bos = -1
    if bos_tok:
        bos = json.loads(subprocess.run([a.r1, "tokenize", "-m", a.model], input=bos_tok,
                                        capture_output=True, text=True, check=True).stdout)[0]
    body = a.window - 1 if bos >= 0 else a.window
    first = a.window // 2
    per = a.window - 1 - first
    n_win = min(max(1, -(-a.tokens // per)), len(ids) // body)

    ref = dense.DenseModel.load(a.model, mode="reference")
    if ref.stored_dtype != torch.bfloat16:
        sys.exit(f"{a.model}: stored as {ref.stored_dtype}; this compares bf16 checkpoints")
    nat = dense.DenseModel.load(a.model, mode="native")
    kls, same, nll_ref, nll_nat = [], 0, 0.0, 0.0
    with torch.no_grad():
        for w in range(n_win):
            win = ([bos] if bos >= 0 else []) + ids[w * body:(w + 1) * body]
            lr = torch.log_softmax(ref.forward(win).double()[first:-1], -1)
            ln = torch.log_softmax(nat.forward(win).float().double()[first:-1], -1)
            kls += (lr.exp() * (lr - ln)).sum(-1).clamp(min=0).tolist()
            same += int((lr.argmax(-1) == ln.argmax(-1)).sum())
            tgt = torch.tensor(win[first + 1:], dtype=torch.long)[:, None]
            nll_ref -= float(lr.gather(1, tgt).sum())
            nll_nat -= float(ln.gather(1, tgt).sum())
    n = len(kls)
    kls_sorted = sorted(kls)
    torch_row = {"format": "PyTorch bf16", "kl_mean": sum(kls) / n,
                 "kl_p99": kls_sorted[int(0.99 * (n - 1) + 0.5)], "top1": same / n,
                 "ppl": math.exp(nll_nat / n), "ln_ppl_ratio": (nll_nat - nll_ref) / n}
    r1 = json.loads(subprocess.run(
        [a.r1, "bench", "-m", a.model, "--quality", a.text, "--formats", "bf16-fast",
         "--ctx-window", str(a.window), "--quality-tokens", str(a.tokens), "--json",
         "--threads", str(a.threads)], capture_output=True, text=True, check=True).stdout)
    print(f"{a.text}: {n_win} windows of {a.window} tokens, {n} positions scored; exact path "
          f"perplexity: PyTorch {math.exp(nll_ref / n):.4f}, r1 {r1['reference']['ppl']:.4f}")
    print(f"{'path':<14} {'mean KL':>10} {'99% KL':>10} {'top-1':>7} {'perplexity':>11}")
    rows = [torch_row] + [dict(f, format="r1 " + f["format"]) for f in r1["formats"]]
    for r in rows:
        print(f"{r['format']:<14} {r['kl_mean']:>10.3e} {r['kl_p99']:>10.3e} {r['top1']:>7.4f} "
              f"{r['ppl']:>11.4f}")


if __name__ == "__main__":
    main()
