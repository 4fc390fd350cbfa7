#!/usr/bin/python3
"""Writes a random DeepseekV3ForCausalLM Hugging Face folder scaled to fit a small machine, for
speed benchmarks (`r1 bench`). Same config fields and tensor names/layouts as the DeepSeek-V3/R1
checkpoints and tools/reference/make_deepseek_fixtures.py, random weights.

  --dtype fp8|bf16     fp8: linear weights of attention, dense MLPs and experts (routed and shared)
                       stored F8_E4M3 with f32 128x128 block scales (<name>_scale_inv), encoded with
                       deepseek_v3.fp8_e4m3_encode as the fixtures are, and a quantization_config;
                       everything else bf16 (embeddings, lm_head, norms, router weight, eh_proj),
                       e_score_correction_bias f32. bf16: everything bf16 but the bias (f32).
  --out DIR            the folder (keep it out of the repository)
  shape (defaults in brackets): --hidden [1536] --layers [12] --experts [64] --top-k [6]
    --groups [8] --topk-group [4] --shared [1] --moe-inter [512] --dense-inter [4096]
    --first-dense [1] --heads [16] --q-lora [512, 0 = q_proj] --kv-lora [256] --nope [64]
    --rope [32] --v [64] --vocab [32000]; --mtp adds one MTP layer (num_nextn_predict_layers 1)
  --shard-gb [1.0]     approximate shard size; files model-0000k-of-0000n.safetensors plus
                       model.safetensors.index.json

Defaults: ~1.9 G parameters (~2.1 G with --mtp), ~0.3 G active per token; fp8 ~2.0 GB (2.3 GB
with --mtp), bf16 ~3.7 GB (4.2 GB with --mtp).

Weights ~ N(0, 0.02^2) (fp8: each 128x128 block also scaled by 2^u, u ~ U(-1, 1), so that the
block scales differ, as in the fixtures); norms 1; router weight N(0, 0.02^2) bf16;
e_score_correction_bias ~ U(-0.05, 0.05) f32. Each tensor is seeded from its name (deterministic
output) and generated, encoded and written one at a time after the shard headers are computed from
the shapes, so peak memory is a few times the largest tensor, never the model.
"""
import argparse
import json
import os
import sys
import time
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek_v3 as ds  # noqa: E402  (the fixtures' exact e4m3 encoder, BLOCK = 128)
import safetensors_io  # noqa: E402

STD = 0.02


def make_config(a):
    cfg = {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        "hidden_size": a.hidden,
        "intermediate_size": a.dense_inter,
        "moe_intermediate_size": a.moe_inter,
        "num_hidden_layers": a.layers,
        "num_attention_heads": a.heads,
        "num_key_value_heads": a.heads,
        "q_lora_rank": a.q_lora if a.q_lora > 0 else None,
        "kv_lora_rank": a.kv_lora,
        "qk_nope_head_dim": a.nope,
        "qk_rope_head_dim": a.rope,
        "v_head_dim": a.v,
        "n_routed_experts": a.experts,
        "n_shared_experts": a.shared,
        "num_experts_per_tok": a.top_k,
        "n_group": a.groups,
        "topk_group": a.topk_group,
        "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid",
        "topk_method": "noaux_tc",
        "norm_topk_prob": True,
        "first_k_dense_replace": a.first_dense,
        "moe_layer_freq": 1,
        "ep_size": 1,
        "aux_loss_alpha": 0.001,
        "seq_aux": True,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "vocab_size": a.vocab,
        # R1's YaRN (factor 40 over 4096 = 163840 positions)
        "max_position_embeddings": 163840,
        "rope_theta": 10000,
        "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                         "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": False,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "num_nextn_predict_layers": 1 if a.mtp else 0,
        "initializer_range": STD,
        "use_cache": True,
        "torch_dtype": "bfloat16",
    }
    if a.dtype == "fp8":
        cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3",
                                      "quant_method": "fp8", "weight_block_size": [128, 128]}
    return cfg


def tensor_specs(a):
    """[(name, shape, kind)] in checkpoint order; kind: 'lin' (quantized linear in fp8 models),
    'dense' (random bf16), 'norm' (ones, bf16), 'bias' (f32)."""
    H, V, nh = a.hidden, a.vocab, a.heads
    dn, dr, dv, r, ql = a.nope, a.rope, a.v, a.kv_lora, a.q_lora
    specs = []

    def mlp(prefix, inter):
        specs.append((prefix + "gate_proj.weight", [inter, H], "lin"))
        specs.append((prefix + "up_proj.weight", [inter, H], "lin"))
        specs.append((prefix + "down_proj.weight", [H, inter], "lin"))

    def decoder_layer(L):
        p = f"model.layers.{L}."
        specs.append((p + "input_layernorm.weight", [H], "norm"))
        specs.append((p + "post_attention_layernorm.weight", [H], "norm"))
        s = p + "self_attn."
        if ql > 0:
            specs.append((s + "q_a_proj.weight", [ql, H], "lin"))
            specs.append((s + "q_a_layernorm.weight", [ql], "norm"))
            specs.append((s + "q_b_proj.weight", [nh * (dn + dr), ql], "lin"))
        else:
            specs.append((s + "q_proj.weight", [nh * (dn + dr), H], "lin"))
        specs.append((s + "kv_a_proj_with_mqa.weight", [r + dr, H], "lin"))
        specs.append((s + "kv_a_layernorm.weight", [r], "norm"))
        specs.append((s + "kv_b_proj.weight", [nh * (dn + dv), r], "lin"))
        specs.append((s + "o_proj.weight", [H, nh * dv], "lin"))
        if L < a.first_dense:
            mlp(p + "mlp.", a.dense_inter)
        else:
            specs.append((p + "mlp.gate.weight", [a.experts, H], "dense"))
            specs.append((p + "mlp.gate.e_score_correction_bias", [a.experts], "bias"))
            for e in range(a.experts):
                mlp(f"{p}mlp.experts.{e}.", a.moe_inter)
            if a.shared > 0:
                mlp(p + "mlp.shared_experts.", a.shared * a.moe_inter)

    specs.append(("model.embed_tokens.weight", [V, H], "dense"))
    for L in range(a.layers):
        decoder_layer(L)
    specs.append(("model.norm.weight", [H], "norm"))
    specs.append(("lm_head.weight", [V, H], "dense"))
    if a.mtp:
        N = a.layers
        p = f"model.layers.{N}."
        decoder_layer(N)
        specs.append((p + "enorm.weight", [H], "norm"))
        specs.append((p + "hnorm.weight", [H], "norm"))
        specs.append((p + "eh_proj.weight", [H, 2 * H], "dense"))
        specs.append((p + "shared_head.norm.weight", [H], "norm"))
        # [RW] shared with the main model; the HF checkpoint stores copies (equal values: same seed)
        specs.append((p + "embed_tokens.weight", [V, H], "dense:model.embed_tokens.weight"))
        specs.append((p + "shared_head.head.weight", [V, H], "dense:lm_head.weight"))
    return specs


def numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def entries_for(spec, fp8):
    """The safetensors entries (name, dtype name, shape) one spec writes."""
    name, shape, kind = spec
    if kind == "lin" and fp8:
        B = ds.BLOCK
        return [(name, "F8_E4M3", shape),
                (name + "_scale_inv", "F32", [(shape[0] + B - 1) // B, (shape[1] + B - 1) // B])]
    if kind == "bias":
        return [(name, "F32", shape)]
    return [(name, "BF16", shape)]


def entry_bytes(e):
    return numel(e[2]) * safetensors_io.ITEM_SIZE[e[1]]


def generator(name):
    return torch.Generator().manual_seed(zlib.crc32(name.encode()))


def quantize_fp8(w, g):
    """f32 [M, N] -> (uint8 e4m3 codes, f32 scale_inv [ceil(M/128), ceil(N/128)]): each block
    jittered by 2^u, u ~ U(-1, 1); scale_inv = amax(block) / 448; q = e4m3(w / scale_inv)
    (make_deepseek_fixtures.quantize_fp8, with the block amax vectorized)."""
    M, N = w.shape
    B = ds.BLOCK
    sm, sn = (M + B - 1) // B, (N + B - 1) // B
    jitter = 2.0 ** (torch.rand(sm, sn, generator=g) * 2 - 1)
    padded = torch.zeros(sm * B, sn * B)
    padded[:M, :N] = w
    blocks = padded.view(sm, B, sn, B)
    blocks.mul_(jitter[:, None, :, None])
    scale = blocks.abs().amax(dim=(1, 3)) / 448.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    blocks.div_(scale[:, None, :, None])
    q = ds.fp8_e4m3_encode(padded[:M, :N].contiguous())
    return q, scale


def make_tensors(spec, fp8):
    """{entry name: tensor} for one spec."""
    name, shape, kind = spec
    seed_name = kind.split(":", 1)[1] if kind.startswith("dense:") else name
    if kind == "norm":
        return {name: torch.ones(shape, dtype=torch.bfloat16)}
    g = generator(seed_name)
    if kind == "bias":
        return {name: (torch.rand(shape, generator=g) * 0.1 - 0.05).float()}
    w = torch.randn(shape, generator=g).mul_(STD)
    if kind == "lin" and fp8:
        q, s = quantize_fp8(w, g)
        return {name: q, name + "_scale_inv": s.float().contiguous()}
    return {name: w.to(torch.bfloat16)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dtype", choices=["fp8", "bf16"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hidden", type=int, default=1536)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--experts", type=int, default=64)
    ap.add_argument("--top-k", type=int, default=6)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--topk-group", type=int, default=4)
    ap.add_argument("--shared", type=int, default=1)
    ap.add_argument("--moe-inter", type=int, default=512)
    ap.add_argument("--dense-inter", type=int, default=4096)
    ap.add_argument("--first-dense", type=int, default=1)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--q-lora", type=int, default=512, help="0: q_proj instead of q_a/q_b (q_lora_rank null)")
    ap.add_argument("--kv-lora", type=int, default=256)
    ap.add_argument("--nope", type=int, default=64)
    ap.add_argument("--rope", type=int, default=32)
    ap.add_argument("--v", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--mtp", action="store_true")
    ap.add_argument("--shard-gb", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    a = ap.parse_args()
    if a.experts % a.groups or a.topk_group > a.groups or a.top_k > a.experts:
        ap.error("need experts % groups == 0, topk-group <= groups, top-k <= experts")
    if a.threads:
        torch.set_num_threads(a.threads)
    fp8 = a.dtype == "fp8"

    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(a.out):
        if f.endswith(".safetensors") or f.endswith(".index.json"):
            os.remove(os.path.join(a.out, f))
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(make_config(a), f, indent=2)
        f.write("\n")

    # Shards: consecutive specs (a weight and its scale always together) up to ~shard-gb each.
    specs = tensor_specs(a)
    limit = a.shard_gb * 1e9
    shards, cur, cur_bytes = [], [], 0
    for spec in specs:
        b = sum(entry_bytes(e) for e in entries_for(spec, fp8))
        if cur and cur_bytes + b > limit:
            shards.append(cur)
            cur, cur_bytes = [], 0
        cur.append(spec)
        cur_bytes += b
    if cur:
        shards.append(cur)

    n = len(shards)
    weight_map, total, params = {}, 0, 0
    start = time.time()
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
        entries = [e for spec in shard for e in entries_for(spec, fp8)]
        by_entry = {}  # entry name -> spec
        for spec in shard:
            for e in entries_for(spec, fp8):
                by_entry[e[0]] = spec
        w = safetensors_io.StreamingWriter(os.path.join(a.out, fname), entries, {"format": "pt"})
        pending = {}  # entries made together with an earlier one (fp8 scales)
        for name in w.names_in_order():
            if name not in pending:
                made = make_tensors(by_entry[name], fp8)
                pending.update(made)
            t = pending.pop(name)
            w.write(name, t)
            weight_map[name] = fname
            total += t.numel() * t.element_size()
            if not name.endswith("_scale_inv"):
                params += t.numel()
            del t
        if pending:
            raise RuntimeError(f"unwritten tensors: {sorted(pending)[:3]}")
        w.close()
        print(f"  {fname}: {os.path.getsize(os.path.join(a.out, fname)) / 1e9:.2f} GB "
              f"({time.time() - start:.0f} s)", flush=True)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")
    print(f"wrote {a.out}: DeepseekV3 {a.dtype}, {params / 1e9:.3f} G parameters, {total / 1e9:.2f} GB "
          f"in {n} shards, {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
