#!/usr/bin/python3
"""Writes a random Hugging Face Qwen2 folder with a real model's shapes, for speed benchmarks.

  --shape qwen0.5b   Qwen2.5-0.5B: hidden 896, 24 layers, 14 heads / 2 kv, intermediate 4864,
                     vocab 151936, tied embeddings, rope_theta 1e6, eps 1e-6
  --shape qwen1.5b   R1-Distill-Qwen-1.5B: hidden 1536, 28 layers, 12 heads / 2 kv, intermediate
                     8960, vocab 151936, untied, rope_theta 1e4, eps 1e-6
  --dtype f32|bf16   stored dtype;  --out DIR   the folder (keep it out of the repository)

Weights ~ N(0, 0.02^2), norms 1, biases N(0, 0.02^2); seeded per tensor, so the output is
deterministic. The file is written tensor by tensor after a header computed from the shapes, so
the model never sits in memory (peak: the largest tensor, the embedding). Also copies the
R1-Distill-Qwen tokenizer files when build/tokenizers has them (CMake unpacks them there from
tests/fixtures/tokenizers.tar.xz), so the folder is complete.
"""
import argparse
import json
import os
import shutil
import sys
import time
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

SHAPES = {
    "qwen0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                     intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True,
                     rope_theta=1000000.0, rms_norm_eps=1e-6, max_position_embeddings=32768,
                     bos_token_id=151643, eos_token_id=151643),
    "qwen1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                     intermediate_size=8960, vocab_size=151936, tie_word_embeddings=False,
                     rope_theta=10000.0, rms_norm_eps=1e-6, max_position_embeddings=131072,
                     bos_token_id=151646, eos_token_id=151643),
}
DTYPES = {"f32": (torch.float32, "float32"), "bf16": (torch.bfloat16, "bfloat16")}
TOKENIZER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                             "tokenizers", "r1-distill-qwen")


def tensor_shapes(c):
    H, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = H // nh
    shapes = {"model.embed_tokens.weight": [V, H], "model.norm.weight": [H]}
    if not c["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [V, H]
    for L in range(c["num_hidden_layers"]):
        p = f"model.layers.{L}."
        shapes.update({
            p + "input_layernorm.weight": [H],
            p + "post_attention_layernorm.weight": [H],
            p + "self_attn.q_proj.weight": [nh * hd, H], p + "self_attn.q_proj.bias": [nh * hd],
            p + "self_attn.k_proj.weight": [nkv * hd, H], p + "self_attn.k_proj.bias": [nkv * hd],
            p + "self_attn.v_proj.weight": [nkv * hd, H], p + "self_attn.v_proj.bias": [nkv * hd],
            p + "self_attn.o_proj.weight": [H, nh * hd],
            p + "mlp.gate_proj.weight": [I, H], p + "mlp.up_proj.weight": [I, H],
            p + "mlp.down_proj.weight": [H, I],
        })
    return shapes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--dtype", choices=sorted(DTYPES), required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    dtype, dtype_name = DTYPES[args.dtype]
    c = dict(SHAPES[args.shape])
    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
              **c, "rope_scaling": None, "torch_dtype": dtype_name, "use_sliding_window": False}
    os.makedirs(args.out, exist_ok=True)
    for f in os.listdir(args.out):
        if f.endswith(".safetensors") or f.endswith(".index.json"):
            os.remove(os.path.join(args.out, f))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    if os.path.isdir(TOKENIZER_DIR):
        for name in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copyfile(os.path.join(TOKENIZER_DIR, name), os.path.join(args.out, name))

    shapes = tensor_shapes(c)
    entries = [(n, safetensors_io.DTYPE_TO_NAME[dtype], s) for n, s in shapes.items()]
    start = time.time()
    w = safetensors_io.StreamingWriter(os.path.join(args.out, "model.safetensors"), entries, {"format": "pt"})
    total = 0
    for name in w.names_in_order():
        shape = shapes[name]
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            t = torch.ones(shape)
        else:
            g = torch.Generator().manual_seed(zlib.crc32(name.encode()))
            t = torch.randn(shape, generator=g).mul_(0.02)
        t = t.to(dtype)
        w.write(name, t)
        total += t.numel() * t.element_size()
        del t
    w.close()
    print(f"wrote {args.out}: {args.shape} {args.dtype}, {total / 1e9:.2f} GB in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
