#!/usr/bin/python3
"""PyTorch side of bench/grpo_vs_torch.sh: one GRPO update the way TRL computes it, in eager
PyTorch f32 on the same model and batch r1 timed (bench/grpo_step_bench.cc writes the batch):
the sequences right-padded into one [B, L] batch with a causal + padding mask, a no-grad
reference forward, the policy forward, per-token log-probabilities of the completions, the
clipped GRPO loss with the k3 KL (beta 0.04, sequence-mean aggregation), backward, gradient
clipping and torch.optim.AdamW. Prints one JSON line {"side": "torch", "threads", "seconds",
"median"} (median over the steps after the first).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import safetensors_io  # noqa: E402
import torch_train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    tensors, _ = safetensors_io.read_file(os.path.join(a.model, "model.safetensors"))
    p = {k: v.float().clone().requires_grad_(True) for k, v in tensors.items()}
    ex = json.load(open(a.batch))["examples"]
    B, L = len(ex), max(len(e["ids"]) for e in ex)
    ids = torch.zeros(B, L, dtype=torch.long)
    cmask = torch.zeros(B, L - 1)  # completion targets
    old = torch.zeros(B, L - 1)
    ref = torch.zeros(B, L - 1)
    for i, e in enumerate(ex):
        n, pl = len(e["ids"]), e["prompt_len"]
        ids[i, :n] = torch.tensor(e["ids"])
        cmask[i, pl - 1:n - 1] = 1
        old[i, pl - 1:n - 1] = torch.tensor(e["old"])
        ref[i, pl - 1:n - 1] = torch.tensor(e["ref"])
    adv = torch.tensor([e["advantage"] for e in ex])[:, None]
    w = torch.tensor([e["weight"] for e in ex])[:, None]
    D = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    cos, sin = torch_train.rope_tables(D, cfg.get("rope_theta", 10000.0), L)
    pad = torch.zeros(B, L, dtype=torch.bool)
    for i, e in enumerate(ex):
        pad[i, len(e["ids"]):] = True
    mask = torch.full((L, L), float("-inf")).triu(1)[None, None] + \
        torch.where(pad, float("-inf"), 0.0)[:, None, None, :]
    mask = mask.clamp(min=-1e30)
    decay = [v for v in p.values() if v.dim() >= 2]
    no_decay = [v for v in p.values() if v.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-5, betas=(0.9, 0.99), eps=1e-8)
    tgt = ids[:, 1:]

    def logprobs():
        logits = torch_train.forward(p, cfg, ids, cos, sin, mask)[:, :-1]
        return torch.log_softmax(logits, -1).gather(2, tgt[..., None])[..., 0]

    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        with torch.no_grad():
            logprobs()  # the reference forward
        lp = logprobs()
        c1 = torch.exp(lp - old)
        c2 = torch.clamp(c1, 0.8, 1.2)
        J = torch.min(c1 * adv, c2 * adv)
        d = ref - lp
        per_token = -(J - 0.04 * (torch.exp(d) - d - 1))
        loss = (per_token * cmask * w).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"side": "torch", "threads": a.threads, "seconds": times,
                      "median": statistics.median(times[1:])}))


if __name__ == "__main__":
    main()
