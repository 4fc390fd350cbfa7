#!/usr/bin/python3
"""PyTorch side of bench/train_vs_torch.sh: training tokens/s of a Qwen2/Llama model in eager
PyTorch, the way a PyTorch user trains it (f32, nn.functional ops, HF-eager-style attention with a
causal mask, torch.optim.AdamW, clip_grad_norm_).

Loads the same model folder r1 trains (config.json + model.safetensors, f32), feeds [batch, seq+1]
token windows (inputs = [:, :-1], targets = [:, 1:]), and prints one JSON line:
  {"side": "torch", "threads": T, "params": N, "targets_per_step": B*L, "tok_s": median, "steps": [...]}
where tok_s counts loss targets per second over the steps after --warmup. With --bf16 the forward
pass (and so its backward) runs under torch.autocast("cpu", bfloat16): matrix products in bf16
(oneDNN), as r1's --bf16-matmul computes them; "side" is then "torch-bf16".
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                "reference"))
import safetensors_io  # noqa: E402


def rope_tables(head_dim, theta, length):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    ang = torch.arange(length, dtype=torch.float32)[:, None] * inv[None, :]
    return torch.cos(ang), torch.sin(ang)


def rotate(x, cos, sin):  # x: [B, H, L, D], half-split form
    h = x.shape[-1] // 2
    a, b = x[..., :h], x[..., h:]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def forward(p, cfg, ids, cos, sin, mask):
    B, L = ids.shape
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    x = F.embedding(ids, p["model.embed_tokens.weight"])
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        h = rms(x, p[pre + "input_layernorm.weight"], eps)
        q = F.linear(h, p[pre + "self_attn.q_proj.weight"], p.get(pre + "self_attn.q_proj.bias"))
        k = F.linear(h, p[pre + "self_attn.k_proj.weight"], p.get(pre + "self_attn.k_proj.bias"))
        v = F.linear(h, p[pre + "self_attn.v_proj.weight"], p.get(pre + "self_attn.v_proj.bias"))
        q = rotate(q.view(B, L, H, D).transpose(1, 2), cos, sin)
        k = rotate(k.view(B, L, KV, D).transpose(1, 2), cos, sin)
        v = v.view(B, L, KV, D).transpose(1, 2)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        s = torch.matmul(q, k.transpose(2, 3)) / (D ** 0.5) + mask
        a = torch.matmul(F.softmax(s, dim=-1), v).transpose(1, 2).reshape(B, L, H * D)
        x = x + F.linear(a, p[pre + "self_attn.o_proj.weight"])
        h = rms(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = F.linear(h, p[pre + "mlp.gate_proj.weight"])
        u = F.linear(h, p[pre + "mlp.up_proj.weight"])
        x = x + F.linear(F.silu(g) * u, p[pre + "mlp.down_proj.weight"])
    x = rms(x, p["model.norm.weight"], eps)
    head = p.get("lm_head.weight", p["model.embed_tokens.weight"])
    return F.linear(x, head)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    tensors, _ = safetensors_io.read_file(os.path.join(a.model, "model.safetensors"))
    p = {k: v.float().clone().requires_grad_(True) for k, v in tensors.items()}
    n_params = sum(v.numel() for v in p.values())
    decay = [v for v in p.values() if v.dim() >= 2]
    no_decay = [v for v in p.values() if v.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    L, B = a.seq_len, a.batch
    D = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    cos, sin = rope_tables(D, cfg.get("rope_theta", 10000.0), L)
    mask = torch.full((L, L), float("-inf")).triu(1)
    ids = torch.randint(0, cfg["vocab_size"], (B, L + 1))
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            logits = forward(p, cfg, ids[:, :-1], cos, sin, mask)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                               ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    rates = [B * L / t for t in times[a.warmup:]]
    print(json.dumps({"side": "torch-bf16" if a.bf16 else "torch", "threads": a.threads, "params": n_params,
                      "targets_per_step": B * L, "tok_s": statistics.median(rates),
                      "steps": [round(r, 1) for r in rates]}))


if __name__ == "__main__":
    main()
