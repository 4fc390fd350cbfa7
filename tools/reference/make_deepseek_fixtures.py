#!/usr/bin/python3
"""Writes the tiny DeepSeek-V3 fixtures and their goldens under tests/fixtures/models/dsv3-*/.

Each fixture is a Hugging Face DeepseekV3ForCausalLM folder (config.json with the real fields,
model.safetensors with the real tensor names and [out, in] layouts, random weights from a fixed
seed) plus goldens from deepseek_v3.py (the numerics contract: f32, weights widened / FP8
dequantized exactly, no activation quantization):

  golden.jsonl      {"ids", "logprobs"}; logprobs[j] = log p(ids[j+1] | ids[:j+1]) (as the dense fixtures)
  golden_top.jsonl  {"ids", "argmax", "argmax_logprob", "argmax_margin", "greedy", "greedy_logprobs",
                     "greedy_margins"} (as the dense fixtures; 16 greedy tokens, full recompute)
  golden_mtp.jsonl  (MTP fixtures) {"ids", "mtp_logprobs", "mtp_argmax", "mtp_argmax_margin"}:
                    mtp_logprobs[j] = log p_mtp(ids[j+2] | ids[:j+2]), j = 0 .. T-3;
                    mtp_argmax[j] = argmax of the MTP logits at position j (its draft for the token
                    at index j+2), j = 0 .. T-2, with the top1 - top2 logit margin.

Run: /usr/bin/python3 tools/reference/make_deepseek_fixtures.py [--only NAME,...]
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek_v3 as ds  # noqa: E402
import dense  # noqa: E402  (greedy only calls model.forward)
import make_fixtures  # noqa: E402  (golden writers)
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEQ_LENS = [1, 2, 7, 40, 100]
GREEDY_TOKENS = 16

# max_position_embeddings = factor * original_max_position_embeddings in every fixture, because
# transformers' _compute_yarn_parameters re-derives factor as that ratio when
# original_max_position_embeddings is given; 128 >= 100 + 16 tokens of the goldens.
FIXTURES = [
    # YaRN with a real blend: rope dim 64, theta 1e4, original 16, beta 32/1 -> low 0, high 4,
    # ramp 0, .25, .5, .75, 1 (R1 itself: low 10, high 23).
    dict(name="dsv3-bf16", seed=7101, dtype="bf16", fp8=False, mtp=True,
         hidden=64, inter=96, moe_inter=32, layers=4, dense_layers=2, heads=4,
         q_lora=48, kv_lora=32, nope=16, rope=64, v=24,
         experts=8, shared=1, topk=3, n_group=4, topk_group=2, vocab=288,
         rope_scaling={"type": "yarn", "factor": 8.0, "original_max_position_embeddings": 16,
                       "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
         max_pos=128, gate_gain=6.0, bias_range=(-0.5, 0.1)),
    # FP8: hidden 144 = one full 128 block + a partial one of 16; every quantized weight has a
    # partial block, several have two blocks in a dimension (q_b_proj rows 256, o_proj rows 144,
    # dense gate/up 136 x 144 -> 2 x 2 blocks, all but one partial).
    dict(name="dsv3-fp8", seed=7202, dtype="fp8", fp8=True, mtp=True,
         hidden=144, inter=136, moe_inter=16, layers=4, dense_layers=2, heads=4,
         q_lora=96, kv_lora=64, nope=32, rope=32, v=32,
         experts=8, shared=1, topk=3, n_group=4, topk_group=2, vocab=192,
         rope_scaling={"type": "yarn", "factor": 8.0, "original_max_position_embeddings": 16,
                       "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
         max_pos=128, gate_gain=6.0, bias_range=(-0.5, 0.1)),
    # q_lora_rank null (q_proj), f32, no MTP; 2 groups of 4 experts (top-2 sum of 4), 2 shared
    # experts, one dense layer; mscale != mscale_all_dim so HF's cos/sin multiplier is not 1;
    # beta 4 / 0.25 -> low 0, high 2 with rope dim 16 (ramp 0, .5, 1).
    dict(name="dsv3-qproj-f32", seed=7303, dtype="f32", fp8=False, mtp=False,
         hidden=48, inter=64, moe_inter=16, layers=2, dense_layers=1, heads=2,
         q_lora=None, kv_lora=24, nope=16, rope=16, v=16,
         experts=8, shared=2, topk=2, n_group=2, topk_group=1, vocab=200,
         rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32,
                       "beta_fast": 4, "beta_slow": 0.25, "mscale": 1.0, "mscale_all_dim": 0.707},
         max_pos=128, gate_gain=6.0, bias_range=(-0.5, 0.1)),
]

TORCH_DTYPE = {"bf16": "bfloat16", "fp8": "bfloat16", "f32": "float32"}


def make_config(fx):
    cfg = {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        "hidden_size": fx["hidden"],
        "intermediate_size": fx["inter"],
        "moe_intermediate_size": fx["moe_inter"],
        "num_hidden_layers": fx["layers"],
        "num_attention_heads": fx["heads"],
        "num_key_value_heads": fx["heads"],
        "q_lora_rank": fx["q_lora"],
        "kv_lora_rank": fx["kv_lora"],
        "qk_nope_head_dim": fx["nope"],
        "qk_rope_head_dim": fx["rope"],
        "v_head_dim": fx["v"],
        "n_routed_experts": fx["experts"],
        "n_shared_experts": fx["shared"],
        "num_experts_per_tok": fx["topk"],
        "n_group": fx["n_group"],
        "topk_group": fx["topk_group"],
        "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid",
        "topk_method": "noaux_tc",
        "norm_topk_prob": True,
        "first_k_dense_replace": fx["dense_layers"],
        "moe_layer_freq": 1,
        "ep_size": 1,
        "aux_loss_alpha": 0.001,
        "seq_aux": True,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "vocab_size": fx["vocab"],
        "max_position_embeddings": fx["max_pos"],
        "rope_theta": 10000,
        "rope_scaling": fx["rope_scaling"],
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": False,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "num_nextn_predict_layers": 1 if fx["mtp"] else 0,
        "initializer_range": 0.02,
        "use_cache": True,
        "torch_dtype": TORCH_DTYPE[fx["dtype"]],
    }
    if fx["fp8"]:
        cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3",
                                      "quant_method": "fp8", "weight_block_size": [128, 128]}
    return cfg


def quantize_fp8(w, g):
    """f32 [M, N] -> (uint8 fp8 codes, f32 scale_inv [ceil(M/128), ceil(N/128)]).
    Each block is first multiplied by 2^u, u ~ U(-1, 1), so that the scales vary per block; then
    scale_inv = amax(block) / 448 (DeepSeek's recipe [RW]) and q = e4m3(w / scale_inv)."""
    M, N = w.shape
    B = ds.BLOCK
    sm, sn = (M + B - 1) // B, (N + B - 1) // B
    jitter = 2.0 ** (torch.rand(sm, sn, generator=g) * 2 - 1)
    w = w * jitter.repeat_interleave(B, 0).repeat_interleave(B, 1)[:M, :N]
    scale = torch.zeros(sm, sn)
    for i in range(sm):
        for j in range(sn):
            scale[i, j] = w[i * B:(i + 1) * B, j * B:(j + 1) * B].abs().max() / 448.0
    s = scale.repeat_interleave(B, 0).repeat_interleave(B, 1)[:M, :N]
    return ds.fp8_e4m3_encode(w / s), scale


def make_weights(fx):
    """Random weights scaled so that logits are O(1-5), attention is not uniform and routing is
    not degenerate (gate logits O(1-3) so sigmoid scores spread over (0, 1); correction biases in
    bias_range, mostly negative, so that a kept group can hold a negative biased score and -inf vs 0
    masking of the other groups matters)."""
    g = torch.Generator().manual_seed(fx["seed"])
    H, V, nh = fx["hidden"], fx["vocab"], fx["heads"]
    dn, dr, dv, r, ql = fx["nope"], fx["rope"], fx["v"], fx["kv_lora"], fx["q_lora"]
    E = fx["experts"]

    def randn(*shape, std):
        return torch.randn(*shape, generator=g) * std

    def norm_weight(n):
        return torch.rand(n, generator=g) * 0.8 + 0.6  # uniform [0.6, 1.4]

    quantized = set()  # names of linear weights the real FP8 checkpoint quantizes

    def lin(name, out_f, in_f, gain=1.0):
        w[name] = randn(out_f, in_f, std=gain / in_f ** 0.5)
        quantized.add(name)

    def mlp(prefix, inter):
        lin(prefix + "gate_proj.weight", inter, H, 1.2)
        lin(prefix + "up_proj.weight", inter, H, 1.2)
        lin(prefix + "down_proj.weight", H, inter, 0.6)

    def decoder_layer(L):
        p = f"model.layers.{L}."
        w[p + "input_layernorm.weight"] = norm_weight(H)
        w[p + "post_attention_layernorm.weight"] = norm_weight(H)
        a = p + "self_attn."
        if ql is None:
            lin(a + "q_proj.weight", nh * (dn + dr), H, 1.3)
        else:
            lin(a + "q_a_proj.weight", ql, H, 1.0)
            w[a + "q_a_layernorm.weight"] = norm_weight(ql)
            lin(a + "q_b_proj.weight", nh * (dn + dr), ql, 1.3)
        lin(a + "kv_a_proj_with_mqa.weight", r + dr, H, 1.0)
        w[a + "kv_a_layernorm.weight"] = norm_weight(r)
        lin(a + "kv_b_proj.weight", nh * (dn + dv), r, 1.3)
        lin(a + "o_proj.weight", H, nh * dv, 0.7)
        if L < fx["dense_layers"]:
            mlp(p + "mlp.", fx["inter"])
        else:
            w[p + "mlp.gate.weight"] = randn(E, H, std=fx.get("gate_gain", 1.5) / H ** 0.5)
            lo, hi = fx["bias_range"]
            w[p + "mlp.gate.e_score_correction_bias"] = torch.rand(E, generator=g) * (hi - lo) + lo
            for e in range(E):
                mlp(f"{p}mlp.experts.{e}.", fx["moe_inter"])
            mlp(p + "mlp.shared_experts.", fx["shared"] * fx["moe_inter"])

    w = {"model.embed_tokens.weight": randn(V, H, std=1.0)}
    for L in range(fx["layers"]):
        decoder_layer(L)
    w["model.norm.weight"] = norm_weight(H)
    w["lm_head.weight"] = randn(V, H, std=2.0 / H ** 0.5)
    if fx["mtp"]:
        N = fx["layers"]
        p = f"model.layers.{N}."
        decoder_layer(N)
        w[p + "enorm.weight"] = norm_weight(H)
        w[p + "hnorm.weight"] = norm_weight(H)
        w[p + "eh_proj.weight"] = randn(H, 2 * H, std=1.0 / (2 * H) ** 0.5)
        w[p + "shared_head.norm.weight"] = norm_weight(H)

    out = {}
    for name, t in w.items():
        if name.endswith("e_score_correction_bias"):
            out[name] = t.float()  # f32 in the real checkpoint
        elif fx["fp8"] and name in quantized:
            q, s = quantize_fp8(t, g)
            out[name] = q
            out[name + "_scale_inv"] = s
        elif fx["dtype"] == "f32":
            out[name] = t.float()
        else:
            out[name] = t.to(torch.bfloat16)
    if fx["mtp"]:
        # [RW] the MTP layer's embed_tokens and shared_head.head share the main model's parameters;
        # the HF checkpoint stores them again under model.layers.N. We write equal copies.
        p = f"model.layers.{fx['layers']}."
        out[p + "embed_tokens.weight"] = out["model.embed_tokens.weight"].clone()
        out[p + "shared_head.head.weight"] = out["lm_head.weight"].clone()
    return {k: v.contiguous() for k, v in out.items()}


def make_sequences(fx):
    g = torch.Generator().manual_seed(fx["seed"] * 7 + 1)
    return [torch.randint(0, fx["vocab"], (n,), generator=g).tolist() for n in SEQ_LENS]


def write_goldens(folder, model, seqs):
    make_fixtures.write_goldens(folder, model, seqs, score=ds.score)
    if not model.has_mtp:
        return
    with open(os.path.join(folder, "golden_mtp.jsonl"), "w") as f:
        for ids in seqs:
            logits = model.mtp_logits(ids).double()  # [T-1, V]
            if logits.shape[0]:
                top = torch.topk(logits, 2, dim=-1)
                am, margin = top.indices[:, 0].tolist(), (top.values[:, 0] - top.values[:, 1]).tolist()
            else:
                am, margin = [], []
            f.write(json.dumps({"ids": ids, "mtp_logprobs": ds.score_mtp(model, ids),
                                "mtp_argmax": am, "mtp_argmax_margin": margin}) + "\n")


def routing_stats(model, seqs):
    """Smallest routing margins over every forward the goldens make (sequences, greedy steps, MTP),
    and how many (token, layer) routings differ between -inf and 0 group masking."""
    # each sequence extended by its greedy continuation covers every forward of the goldens
    seqs = [ids + dense.greedy(model, ids, GREEDY_TOKENS)[0] for ids in seqs]
    records = []
    model.route_log = records
    for ids in seqs:
        model.forward(ids)
        if model.has_mtp:
            model.mtp_logits(ids)
    gmin = min(float(r["group_margin"].min()) for r in records)
    use = {}
    for r in records:
        use[r["layer"]] = use.get(r["layer"], 0) + torch.bincount(r["experts"].flatten(), minlength=model.cfg.n_routed_experts)
    print("  expert use per MoE layer:", {k: v.tolist() for k, v in use.items()})
    emin = min(float(r["expert_margin"].min()) for r in records)
    model.route_log = None
    # -inf (official) vs 0.0 ([HF] masked_fill 0.0) group masking on the same inputs
    differ = 0
    total = 0
    for ids in seqs:
        logs = []
        for mv in (float("-inf"), 0.0):
            model.gate_mask_value = mv
            model.route_log = []
            model.forward(ids)
            if model.has_mtp:
                model.mtp_logits(ids)
            logs.append(model.route_log)
        model.gate_mask_value = float("-inf")
        model.route_log = None
        # compare only the first MoE layer of each pass (later layers see different inputs)
        first = {}
        for a, b in zip(logs[0], logs[1]):
            if a["layer"] in first:
                continue
            first[a["layer"]] = True
            d = (a["experts"] != b["experts"]).any(-1)
            differ += int(d.sum())
            total += d.numel()
    return gmin, emin, differ, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures", "models"))
    ap.add_argument("--only", default=None)
    ap.add_argument("--no-goldens", action="store_true", help="write checkpoints only (for tuning)")
    ap.add_argument("--tune", default=None, help="JSON dict merged into every fixture (for tuning)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    only = set(args.only.split(",")) if args.only else None
    for fx in FIXTURES:
        if only and fx["name"] not in only:
            continue
        if args.tune:
            fx = dict(fx, **json.loads(args.tune))
        folder = os.path.join(args.out, fx["name"])
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(make_config(fx), f, indent=2)
            f.write("\n")
        safetensors_io.write_file(os.path.join(folder, "model.safetensors"), make_weights(fx))
        model = ds.DeepseekV3Model.load(folder)  # goldens from the files as written
        seqs = make_sequences(fx)
        logits = model.forward(seqs[-1])
        gmin, emin, differ, total = routing_stats(model, seqs)
        if not args.no_goldens:
            write_goldens(folder, model, seqs)
        size = sum(os.path.getsize(os.path.join(folder, x)) for x in os.listdir(folder))
        print(f"{fx['name']}: {size / 1024:.0f} KiB, logits std {logits.std():.2f} max |logit| "
              f"{logits.abs().max():.2f}; min group margin {gmin:.2e}, min expert margin {emin:.2e}; "
              f"-inf vs 0 masking differ on {differ}/{total} first-MoE-layer routings")


if __name__ == "__main__":
    main()
