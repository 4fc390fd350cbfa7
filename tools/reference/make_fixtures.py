#!/usr/bin/python3
"""Writes the tiny dense-model fixtures and their goldens under tests/fixtures/models/<name>/.

Each fixture is a Hugging Face folder (config.json, model.safetensors or two shards plus
model.safetensors.index.json) with the real Qwen2/Llama tensor names and [out, in] layouts, random
weights from a fixed seed, and two golden files computed by dense.py in "reference" mode (the
numerics contract, see dense.py):

  golden.jsonl      one line per sequence: {"ids": [...], "logprobs": [...]}
                    logprobs[j] = log p(ids[j+1] | ids[:j+1]), length len(ids)-1 (first token
                    omitted), float64 log-softmax of the f32 logits, printed with repr precision.
  golden_top.jsonl  one line per sequence (same sequences, same order):
                    {"ids": [...],
                     "argmax": [...], "argmax_logprob": [...], "argmax_margin": [...],   # per position 0..T-1
                     "greedy": [16 tokens], "greedy_logprobs": [...], "greedy_margins": [...]}
                    argmax[j] = the most likely next token after ids[:j+1]; margin = top1 - top2
                    logit (f32 logits, in float64); greedy = 16 greedy tokens after the whole of
                    ids, by full recompute (no KV cache).

Run from anywhere: /usr/bin/python3 tools/reference/make_fixtures.py [--out tests/fixtures/models]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dense  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# Sequence lengths of the goldens: 1 (no logprobs), 2, 7, 40 (beyond the llama3 fixture's
# original_max_position_embeddings = 32) and 100.
SEQ_LENS = [1, 2, 7, 40, 100]
GREEDY_TOKENS = 16

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
TORCH_DTYPE_NAME = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}

FIXTURES = [
    dict(name="qwen2-f32", arch="qwen2", dtype="f32", seed=101,
         hidden=64, layers=2, heads=4, kv_heads=2, head_dim=None, inter=120, vocab=397,
         eps=1e-6, theta=10000.0, rope_scaling=None, tied=False, bias=True, shards=1),
    dict(name="qwen2-tied-bf16", arch="qwen2", dtype="bf16", seed=202,
         hidden=64, layers=2, heads=4, kv_heads=2, head_dim=None, inter=120, vocab=311,
         eps=1e-6, theta=1000000.0, rope_scaling=None, tied=True, bias=True, shards=1),
    dict(name="qwen2-f16", arch="qwen2", dtype="f16", seed=303,
         hidden=64, layers=2, heads=2, kv_heads=1, head_dim=None, inter=136, vocab=449,
         eps=1e-5, theta=10000.0, rope_scaling=None, tied=False, bias=True, shards=1),
    # llama3 rope: orig 32, factor 8, theta 1e4, head_dim 24 -> wavelengths 6.3 (kept),
    # 13.5 and 29.2 (smoothed), 62.8 and longer (divided by 8); none near a regime boundary.
    dict(name="llama-llama3rope-f32", arch="llama", dtype="f32", seed=404,
         hidden=64, layers=2, heads=4, kv_heads=2, head_dim=24, inter=120, vocab=353,
         eps=1e-5, theta=10000.0,
         rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 32, "rope_type": "llama3"},
         tied=False, bias=False, shards=1),
    dict(name="llama-bf16-sharded", arch="llama", dtype="bf16", seed=505,
         hidden=64, layers=2, heads=8, kv_heads=2, head_dim=None, inter=120, vocab=419,
         eps=1e-5, theta=500000.0, rope_scaling=None, tied=False, bias=True, shards=2),
    # Llama with mlp_bias (gate/up/down biases) and tied embeddings.
    dict(name="llama-mlpbias-f32", arch="llama", dtype="f32", seed=606,
         hidden=32, layers=2, heads=4, kv_heads=2, head_dim=None, inter=72, vocab=384,
         eps=1e-5, theta=10000.0, rope_scaling=None, tied=True, bias=False, mlp_bias=True,
         shards=1),
]


def make_config(fx):
    qwen = fx["arch"] == "qwen2"
    cfg = {
        "architectures": ["Qwen2ForCausalLM" if qwen else "LlamaForCausalLM"],
        "model_type": "qwen2" if qwen else "llama",
        "hidden_size": fx["hidden"],
        "intermediate_size": fx["inter"],
        "num_hidden_layers": fx["layers"],
        "num_attention_heads": fx["heads"],
        "num_key_value_heads": fx["kv_heads"],
        "vocab_size": fx["vocab"],
        "rms_norm_eps": fx["eps"],
        "rope_theta": fx["theta"],
        "rope_scaling": fx["rope_scaling"],
        "max_position_embeddings": 256,
        "tie_word_embeddings": fx["tied"],
        "hidden_act": "silu",
        "torch_dtype": TORCH_DTYPE_NAME[fx["dtype"]],
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    if fx["head_dim"] is not None:
        cfg["head_dim"] = fx["head_dim"]
    if not qwen:
        cfg["attention_bias"] = fx["bias"]
        cfg["mlp_bias"] = fx.get("mlp_bias", False)
    return cfg


def make_weights(fx):
    """Random weights scaled so that attention is far from uniform and logits are O(1-5)."""
    g = torch.Generator().manual_seed(fx["seed"])
    H, I, V = fx["hidden"], fx["inter"], fx["vocab"]
    nh, nkv = fx["heads"], fx["kv_heads"]
    hd = fx["head_dim"] or H // nh

    def randn(*shape, std):
        return torch.randn(*shape, generator=g) * std

    def norm_weight():
        return torch.rand(H, generator=g) * 0.8 + 0.6  # uniform [0.6, 1.4]: not all ones

    w = {"model.embed_tokens.weight": randn(V, H, std=0.3)}
    for L in range(fx["layers"]):
        p = f"model.layers.{L}."
        w[p + "input_layernorm.weight"] = norm_weight()
        w[p + "post_attention_layernorm.weight"] = norm_weight()
        w[p + "self_attn.q_proj.weight"] = randn(nh * hd, H, std=0.15)
        w[p + "self_attn.k_proj.weight"] = randn(nkv * hd, H, std=0.15)
        w[p + "self_attn.v_proj.weight"] = randn(nkv * hd, H, std=0.15)
        w[p + "self_attn.o_proj.weight"] = randn(H, nh * hd, std=0.7 / (nh * hd) ** 0.5)
        if fx["bias"]:
            w[p + "self_attn.q_proj.bias"] = randn(nh * hd, std=0.2)
            w[p + "self_attn.k_proj.bias"] = randn(nkv * hd, std=0.5)
            w[p + "self_attn.v_proj.bias"] = randn(nkv * hd, std=0.1)
        w[p + "mlp.gate_proj.weight"] = randn(I, H, std=0.15)
        w[p + "mlp.up_proj.weight"] = randn(I, H, std=0.15)
        w[p + "mlp.down_proj.weight"] = randn(H, I, std=0.7 / I ** 0.5)
        if fx.get("mlp_bias"):
            w[p + "mlp.gate_proj.bias"] = randn(I, std=0.3)
            w[p + "mlp.up_proj.bias"] = randn(I, std=0.3)
            w[p + "mlp.down_proj.bias"] = randn(H, std=0.1)
    w["model.norm.weight"] = norm_weight()
    if not fx["tied"]:
        w["lm_head.weight"] = randn(V, H, std=0.3)
    dt = DTYPES[fx["dtype"]]
    return {k: v.to(dt).contiguous() for k, v in w.items()}


def write_checkpoint(folder, weights, shards):
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        if f.endswith(".safetensors") or f.endswith(".index.json"):
            os.remove(os.path.join(folder, f))
    if shards == 1:
        safetensors_io.write_file(os.path.join(folder, "model.safetensors"), weights)
        return
    # Shard assignment by layer as HF's save_pretrained would produce: embeddings and the first
    # half of the layers in shard 1, the rest plus final norm and lm_head in shard 2.
    names = sorted(weights)
    files = [f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)]

    def shard_of(name):
        if name.startswith("model.layers."):
            layer = int(name.split(".")[2])
            return 0 if layer == 0 else 1
        return 0 if name == "model.embed_tokens.weight" else 1

    weight_map = {}
    for s, fname in enumerate(files):
        part = {n: weights[n] for n in names if shard_of(n) == s}
        safetensors_io.write_file(os.path.join(folder, fname), part)
        weight_map.update({n: fname for n in part})
    total = sum(t.numel() * t.element_size() for t in weights.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")


def make_sequences(fx):
    g = torch.Generator().manual_seed(fx["seed"] * 7 + 1)
    return [torch.randint(0, fx["vocab"], (n,), generator=g).tolist() for n in SEQ_LENS]


def write_goldens(folder, model, seqs, score=None):
    """golden.jsonl and golden_top.jsonl; `score` (default dense.score) gives the logprobs.
    Shared with make_deepseek_fixtures.py."""
    score = score or dense.score
    with open(os.path.join(folder, "golden.jsonl"), "w") as f:
        for ids in seqs:
            f.write(json.dumps({"ids": ids, "logprobs": score(model, ids)}) + "\n")
    with open(os.path.join(folder, "golden_top.jsonl"), "w") as f:
        for ids in seqs:
            logits = model.forward(ids).double()  # [T, V]
            lp = torch.log_softmax(logits, -1)
            top = torch.topk(logits, 2, dim=-1)
            am = top.indices[:, 0]
            toks, glps, gmargins = dense.greedy(model, ids, GREEDY_TOKENS)
            f.write(json.dumps({
                "ids": ids,
                "argmax": am.tolist(),
                "argmax_logprob": lp.gather(1, am[:, None])[:, 0].tolist(),
                "argmax_margin": (top.values[:, 0] - top.values[:, 1]).tolist(),
                "greedy": toks,
                "greedy_logprobs": glps,
                "greedy_margins": gmargins,
            }) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "models"))
    ap.add_argument("--only", default=None, help="comma-separated fixture names")
    args = ap.parse_args()
    torch.set_num_threads(1)
    only = set(args.only.split(",")) if args.only else None
    for fx in FIXTURES:
        if only and fx["name"] not in only:
            continue
        folder = os.path.join(args.out, fx["name"])
        cfg = make_config(fx)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        write_checkpoint(folder, make_weights(fx), fx["shards"])
        # Goldens from the files as written (read back), so they test exactly what is on disk.
        model = dense.DenseModel.load(folder, mode="reference")
        seqs = make_sequences(fx)
        write_goldens(folder, model, seqs)
        if fx["dtype"] == "bf16":
            # The fast bf16 mode (linear inputs rounded to bf16), checked with a looser rule.
            fast = dense.DenseModel.load(folder, mode="bf16dot")
            with open(os.path.join(folder, "golden_bf16dot.jsonl"), "w") as f:
                for ids in seqs:
                    f.write(json.dumps({"ids": ids, "logprobs": dense.score(fast, ids)}) + "\n")
        logits = model.forward(seqs[-1])
        size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
        print(f"{fx['name']}: {size / 1024:.0f} KiB, logits std {logits.std():.2f} "
              f"max |logit| {logits.abs().max():.2f}")


if __name__ == "__main__":
    main()
