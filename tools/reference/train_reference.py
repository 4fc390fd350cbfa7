#!/usr/bin/python3
"""Training goldens: one step's loss and gradients, and a 10-step AdamW loss curve, for tiny
Qwen2, Llama and DeepSeek-V3 models. The C++ trainer must reproduce them.

TRAINING CONTRACT (what the C++ trainer implements; everything here is float32, as the engine):
  Model     the forward of dense.py / deepseek_v3.py in "reference" numerics (f32 weights and
            activations, no rounding of linear inputs); the same code that writes the inference
            goldens. No dropout. DeepSeek: no MTP layer (num_nextn_predict_layers 0).
  Data      spec.json "sequences": lists of token ids. Each sequence is independent: positions
            start at 0, causal attention only within the sequence (no packing, no padding).
            Token i predicts token i+1. spec.json "loss_mask"[k] has len(sequences[k]) - 1 entries,
            0/1 per target position i (target = sequences[k][i+1]).
  Loss      L = sum_k sum_i mask[k][i] * -log_softmax(logits_k[i])[sequences[k][i+1]] / N,
            N = total number of mask = 1 targets over ALL sequences of the step.
            (log-softmax in f32.)
  Micro-batches  spec.json "micro_batches" = [[0, 1], [2]]: gradient accumulation. Each micro-batch's
            loss is its part of the sum above divided by the same N; the step's gradient is the sum
            of the micro-batches' gradients (equal to the full-batch gradient). This script does
            exactly that (one backward per micro-batch, gradients accumulated in f32).
  Trainable every tensor of model.safetensors (all f32), EXCEPT DeepSeek's
            `*.mlp.gate.e_score_correction_bias` (frozen: used only for expert selection; no
            gradient, no update, no weight decay). A tensor that receives no gradient in a step (an
            expert no token chose) has gradient 0 and is still updated (decay, moments). MoE routing: expert selection (top-k of
            sigmoid(gate logits) + bias, group-limited, noaux_tc) is a discrete choice with no
            gradient; the weights of the chosen experts = sigmoid(gate logits) gathered at the chosen
            indices, / (their sum + 1e-20), * routed_scaling_factor, carry gradient to gate.weight.
  Clipping  g_norm = L2 norm over all trainable gradients (torch.nn.utils.clip_grad_norm_: norm of
            the per-tensor L2 norms); if clip_norm > 0: coef = clip_norm / (g_norm + 1e-6); if
            coef < 1 every gradient is multiplied by coef. clip_norm = 1.0.
  Schedule  update s = 0 .. S-1 (S = total_steps = 10, W = warmup_steps = 3, r = min_lr_ratio 0.1):
              s < W:  lr = lr_max * (s + 1) / W
              else:   p = (s - W) / max(1, S - W); lr = lr_max * (r + (1 - r) * 0.5 * (1 + cos(pi * p)))
            lr_max = 3e-3.
  AdamW     torch.optim.AdamW (torch 1.13, single-tensor path, amsgrad off), per parameter, t = s + 1:
              p = p * (1 - lr * wd)                                  (decoupled decay)
              m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
              p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
            betas (0.9, 0.95), eps 1e-8; wd = 0.1 for tensors with ndim >= 2, 0 for 1-D tensors
            (norm weights, biases). m, v start at 0.
  Steps     10 updates, each on the same batch. curve.json records for update s: "loss" (at the
            weights before update s; the sum of the micro-batch losses), "grad_norm" (g_norm
            before clipping), "lr".

OUTPUTS, tests/fixtures/train/<name>/ for <name> in qwen2-f32, llama-f32, llama-mlpbias-f32, dsv3-f32:
  spec.json          {"model": folder relative to the repo root, "sequences", "loss_mask",
                      "micro_batches", "optimizer": {lr, betas, eps, weight_decay, warmup_steps,
                      total_steps, min_lr_ratio, clip_norm}, "frozen": [names]}
  grads.safetensors  gradient of the step-0 loss w.r.t. every trainable tensor (HF names, f32)
  curve.json         {"loss": [10], "grad_norm": [10], "lr": [10],
                      "step0_target_logprobs": per sequence, log p(target) of every target (f32,
                      masked ones included) at the initial weights, for debugging the forward}
  final.safetensors  the trainable tensors after the 10 updates (f32)
and the new checkpoint tests/fixtures/train/dsv3-f32-model/ (config.json + model.safetensors),
written with make_deepseek_fixtures.make_config / make_weights.

SELF-CHECKS (printed; the script fails if one fails):
  * the f32 training forward reproduces the committed inference goldens (golden.jsonl) to 1e-5;
  * float64 autograd check: the same weights in float64 (dtype-preserving copies of the norm and
    attention code) -> torch.autograd.gradcheck on one entry per trainable tensor (the entry with the
    largest |gradient|), a central-difference directional derivative per tensor, and the f32
    gradients against the f64 gradients (per tensor ||g32 - g64|| / ||g64|| < 1e-4);
  * MoE routing margins at every step's weights (so f32 rounding in another implementation does
    not flip an expert choice), and how many selections the correction bias changes.

Deterministic: a rerun leaves git clean. Run: /usr/bin/python3 tools/reference/train_reference.py
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek_v3 as ds  # noqa: E402
import dense  # noqa: E402
import make_deepseek_fixtures as mdf  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
OUT = os.path.join("tests", "fixtures", "train")

SEQ_LENS = [9, 14, 6]
MICRO_BATCHES = [[0, 1], [2]]
OPT = {"lr": 3e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1, "warmup_steps": 3,
       "total_steps": 10, "min_lr_ratio": 0.1, "clip_norm": 1.0}
FROZEN_SUFFIX = ".mlp.gate.e_score_correction_bias"

# The new DeepSeek-V3 checkpoint (make_deepseek_fixtures conventions). YaRN as dsv3-bf16 (factor 8,
# original 16, beta 32/1, mscale = mscale_all_dim = 1): with rope dim 4 this gives low 0, high 1,
# i.e. pair 0 keeps the base frequency and pair 1 is interpolated (/8); softmax scale * 1.208^2.
DSV3 = dict(name="dsv3-f32-model", seed=7512, dtype="f32", fp8=False, mtp=False,
            hidden=32, inter=48, moe_inter=16, layers=3, dense_layers=1, heads=4,
            q_lora=24, kv_lora=16, nope=8, rope=4, v=8,
            experts=8, shared=1, topk=2, n_group=4, topk_group=2, vocab=96,
            rope_scaling={"type": "yarn", "factor": 8.0, "original_max_position_embeddings": 16,
                          "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
            max_pos=128, gate_gain=3.0, bias_range=(-0.5, 0.1))

MODELS = [
    # name, kind, model folder (relative to the repo), data seed
    ("qwen2-f32", "dense", os.path.join("tests", "fixtures", "models", "qwen2-f32"), 9101),
    ("llama-f32", "dense", os.path.join("tests", "fixtures", "models", "llama-llama3rope-f32"), 9202),
    ("llama-mlpbias-f32", "dense", os.path.join("tests", "fixtures", "models", "llama-mlpbias-f32"), 9303),
    ("dsv3-f32", "dsv3", os.path.join(OUT, "dsv3-f32-model"), 9304),
]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def make_data(vocab, seed):
    g = torch.Generator().manual_seed(seed)
    seqs = [torch.randint(0, vocab, (n,), generator=g).tolist() for n in SEQ_LENS]
    masks = [[1] * (n - 1) for n in SEQ_LENS]
    masks[0][0] = masks[0][1] = 0  # the first 2 targets of sequence 0 (a "prompt")
    masks[1][6] = masks[1][7] = 0  # two targets in the middle of sequence 1
    masks[2][-1] = 0  # the last target of sequence 2
    return seqs, masks


# ---------------------------------------------------------------------------------------------
# Models with leaf parameters
# ---------------------------------------------------------------------------------------------
class DenseAnyDtype(dense.DenseModel):
    """dense.DenseModel whose rms_norm and attention keep the input dtype (dense.py computes them
    in f32 on purpose, which would make a float64 run not float64). In f32 these are the same
    operations in the same order as dense.py (x.float() of an f32 tensor is the tensor itself)."""

    def rms_norm(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg.rms_norm_eps))

    def attention(self, layer, x, cache, pos0):
        assert cache is None
        cfg, w = self.cfg, self.w
        p = f"model.layers.{layer}.self_attn."
        T = x.shape[0]
        nh, nkv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        bias = (lambda n: w[p + n + ".bias"]) if cfg.qkv_bias else (lambda n: None)
        q = self.linear(x, w[p + "q_proj.weight"], bias("q_proj")).view(T, nh, hd).transpose(0, 1)
        k = self.linear(x, w[p + "k_proj.weight"], bias("k_proj")).view(T, nkv, hd).transpose(0, 1)
        v = self.linear(x, w[p + "v_proj.weight"], bias("v_proj")).view(T, nkv, hd).transpose(0, 1)
        positions = torch.arange(pos0, pos0 + T)
        freqs = positions.float()[:, None] * self.inv_freq[None, :]  # f32 constants, as dense.py
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().to(q.dtype), emb.sin().to(q.dtype)
        q = dense.apply_rope(q, cos, sin)
        k = dense.apply_rope(k, cos, sin)
        g = nh // nkv
        if g > 1:
            k = k.repeat_interleave(g, dim=0)
            v = v.repeat_interleave(g, dim=0)
        scores = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(hd))
        mask = torch.arange(T)[None, :] > positions[:, None]
        probs = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        out = (probs @ v).transpose(0, 1).reshape(T, nh * hd)
        return self.linear(out, w[p + "o_proj.weight"])


def build_model(kind, cfg, params, frozen, dtype):
    """params: {name: leaf tensor (dtype)}; frozen: {name: tensor}. For f32 dense the model is
    dense.DenseModel itself (the code of the inference goldens); for f64 the dtype-preserving
    subclass. The model's weight dict holds the leaves themselves (checked)."""
    w = dict(params)
    w.update({k: v.to(dtype) for k, v in frozen.items()})
    f32 = {k: v.detach().float() for k, v in w.items()}
    if kind == "dense":
        m = (dense.DenseModel if dtype == torch.float32 else DenseAnyDtype)(cfg, f32, "reference")
        m.w = w
        m.compute_dtype = dtype
        m.embed = w["model.embed_tokens.weight"]
        m.lm_head = m.embed if cfg.tie_word_embeddings else w["lm_head.weight"]
    else:
        m = ds.DeepseekV3Model(cfg, f32, "absorbed", dtype)
        m.w = w
    for k, v in params.items():
        assert m.w[k] is v
    return m


def target_logprobs(model, ids):
    """f32 log p(ids[i+1]) for every target i of one sequence (graph kept)."""
    logits = model.forward(ids)  # [T, V]
    lp = torch.log_softmax(logits[:-1], dim=-1)
    tgt = torch.as_tensor(ids[1:], dtype=torch.long)
    return lp.gather(1, tgt[:, None])[:, 0]


def step_loss_and_grads(model, params, seqs, masks, micro_batches):
    """The contract's loss, accumulated over micro-batches; gradients land in p.grad (zeroed first).
    Returns the loss (sum of the micro-batch losses, each an f32 value)."""
    for p in params.values():
        p.grad = None
    n_total = sum(sum(m) for m in masks)
    loss = 0.0
    for mb in micro_batches:
        part = None
        for k in mb:
            lp = target_logprobs(model, seqs[k])
            term = -(lp * torch.tensor(masks[k], dtype=lp.dtype)).sum()
            part = term if part is None else part + term
        part = part / n_total
        part.backward()
        loss += float(part)
    for p in params.values():
        if p.grad is None:  # e.g. an expert no token chose: its gradient is zero (and AdamW still
            p.grad = torch.zeros_like(p)  # decays it and applies its moments, as for any tensor)
    return loss


def full_loss(model, seqs, masks):
    n_total = sum(sum(m) for m in masks)
    total = 0
    for ids, m in zip(seqs, masks):
        total = total - (target_logprobs(model, ids) * torch.tensor(m, dtype=model_dtype(model))).sum()
    return total / n_total


def model_dtype(model):
    return model.w["model.embed_tokens.weight"].dtype


def lr_at(s):
    W, S, r, lr_max = OPT["warmup_steps"], OPT["total_steps"], OPT["min_lr_ratio"], OPT["lr"]
    if s < W:
        return lr_max * (s + 1) / W
    p = (s - W) / max(1, S - W)
    return lr_max * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p)))


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def check_goldens(name, model, folder):
    path = os.path.join(REPO, folder, "golden.jsonl")
    if not os.path.exists(path):
        return None
    worst = 0.0
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if len(rec["ids"]) < 2 or len(rec["ids"]) > 40:
                continue
            with torch.no_grad():
                got = (ds.score if isinstance(model, ds.DeepseekV3Model) else dense.score)(model, rec["ids"])
            worst = max([worst] + [abs(a - b) for a, b in zip(got, rec["logprobs"])])
    if worst > 1e-5:
        raise SystemExit(f"{name}: training forward differs from golden.jsonl by {worst:.2e}")
    return worst


def routing_margins(model, seqs):
    """(min group margin, min expert margin, selections changed by the bias / total) at the model's
    current weights over the batch."""
    if not isinstance(model, ds.DeepseekV3Model):
        return None
    records = []
    model.route_log = records
    with torch.no_grad():
        for ids in seqs:
            model.forward(ids)
    model.route_log = None
    gmin = min(float(r["group_margin"].min()) for r in records)
    emin = min(float(r["expert_margin"].min()) for r in records)
    # with and without the correction bias, on the same inputs (first MoE layer of each sequence)
    cfg = model.cfg
    changed = total = 0
    L = cfg.first_k_dense_replace
    bname = f"model.layers.{L}.mlp.gate.e_score_correction_bias"
    with torch.no_grad():
        for ids in seqs:
            sel = []
            for zero in (False, True):
                saved = model.w[bname]
                if zero:
                    model.w[bname] = torch.zeros_like(saved)
                model.route_log = []
                model.forward(ids)
                sel.append(next(r["experts"] for r in model.route_log if r["layer"] == L))
                model.w[bname] = saved
            model.route_log = None
            d = (sel[0] != sel[1]).any(-1)
            changed += int(d.sum())
            total += d.numel()
    return gmin, emin, changed, total


def f64_check(name, kind, cfg, init, frozen, seqs, masks, grads32):
    """Float64 autograd checks; returns a summary dict. Raises if a check fails."""
    params64 = {k: v.detach().double().clone().requires_grad_(True) for k, v in init.items()}
    m64 = build_model(kind, cfg, params64, frozen, torch.float64)
    loss64 = step_loss_and_grads(m64, params64, seqs, masks, MICRO_BATCHES)
    g64 = {k: p.grad.detach().clone() for k, p in params64.items()}

    # (1) f32 gradients vs f64 gradients, per tensor
    worst_rel, worst_name = 0.0, None
    for k in init:
        a, b = grads32[k].double(), g64[k]
        nb = float(b.norm())
        rel = float((a - b).norm()) / nb if nb > 0 else float((a - b).norm())
        if rel > worst_rel:
            worst_rel, worst_name = rel, k
    if worst_rel > 1e-4:
        raise SystemExit(f"{name}: f32 vs f64 gradient of {worst_name} differs by {worst_rel:.2e} (relative)")

    base = {k: v.detach() for k, v in params64.items()}

    def loss_with(weights):
        m = build_model(kind, cfg, weights, frozen, torch.float64)
        return full_loss(m, seqs, masks)

    # (2) gradcheck on a slice: one entry per trainable tensor, the one with the largest |grad|
    names = sorted(init)
    slots = [(k, int(g64[k].abs().flatten().argmax())) for k in names]
    x0 = torch.tensor([float(base[k].flatten()[i]) for k, i in slots], dtype=torch.float64, requires_grad=True)

    def f(x):
        weights = dict(base)
        for j, (k, i) in enumerate(slots):
            flat = weights[k].flatten()
            weights[k] = flat.index_put((torch.tensor([i]),), x[j:j + 1]).view(base[k].shape)
        return loss_with(weights)

    ok = torch.autograd.gradcheck(f, (x0,), eps=1e-6, atol=1e-8, rtol=1e-5, raise_exception=False)
    if not ok:
        raise SystemExit(f"{name}: torch.autograd.gradcheck failed on the f64 slice")

    # (3) central-difference directional derivative per tensor (random unit direction)
    gen = torch.Generator().manual_seed(12345)
    h = 1e-6
    worst_fd = 0.0
    with torch.no_grad():
        for k in names:
            d = torch.randn(base[k].shape, generator=gen, dtype=torch.float64)
            d = d / d.norm()
            plus, minus = dict(base), dict(base)
            plus[k] = base[k] + h * d
            minus[k] = base[k] - h * d
            fd = (float(loss_with(plus)) - float(loss_with(minus))) / (2 * h)
            an = float((g64[k] * d).sum())
            err = abs(fd - an) / max(float(g64[k].norm()), 1e-12)
            worst_fd = max(worst_fd, err)
    if worst_fd > 1e-5:
        raise SystemExit(f"{name}: f64 finite differences disagree with autograd by {worst_fd:.2e}")
    return {"loss64": loss64, "f32_vs_f64_grad_rel": worst_rel, "worst_tensor": worst_name,
            "gradcheck_entries": len(slots), "fd_dir_rel": worst_fd}


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def write_json(path, d):
    """One top-level key per line, each value compact (readable diffs, small files)."""
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in d.items()) + "\n}\n")


def write_dsv3_checkpoint():
    folder = os.path.join(REPO, OUT, DSV3["name"])
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(mdf.make_config(DSV3), f, indent=2)
        f.write("\n")
    safetensors_io.write_file(os.path.join(folder, "model.safetensors"), mdf.make_weights(DSV3))


def run(name, kind, folder, seed, do_f64=True):
    raw = safetensors_io.read_folder(os.path.join(REPO, folder))
    cfg = (dense.Config if kind == "dense" else ds.Config).load(os.path.join(REPO, folder))
    for k, v in raw.items():
        if v.dtype != torch.float32:
            raise SystemExit(f"{name}: {k} is {v.dtype}, training fixtures are f32")
    frozen = {k: v for k, v in raw.items() if k.endswith(FROZEN_SUFFIX)}
    init = {k: v for k, v in sorted(raw.items()) if k not in frozen}
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    model = build_model(kind, cfg, params, frozen, torch.float32)
    seqs, masks = make_data(cfg.vocab_size, seed)

    golden_err = check_goldens(name, model, folder)

    decay = [p for k, p in params.items() if p.dim() >= 2]
    no_decay = [p for k, p in params.items() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": OPT["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=OPT["lr"], betas=tuple(OPT["betas"]), eps=OPT["eps"],
                            foreach=False, amsgrad=False, maximize=False)
    curve = {"loss": [], "grad_norm": [], "lr": []}
    margins = []
    grads0 = None
    with torch.no_grad():
        step0_lp = [target_logprobs(model, ids).tolist() for ids in seqs]
    for s in range(OPT["total_steps"]):
        margins.append(routing_margins(model, seqs))
        loss = step_loss_and_grads(model, params, seqs, masks, MICRO_BATCHES)
        if s == 0:
            grads0 = {k: p.grad.detach().clone() for k, p in params.items()}
        gnorm = float(torch.nn.utils.clip_grad_norm_(list(params.values()), OPT["clip_norm"]))
        lr = lr_at(s)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        curve["loss"].append(loss)
        curve["grad_norm"].append(gnorm)
        curve["lr"].append(lr)
    curve["step0_target_logprobs"] = step0_lp

    out = os.path.join(REPO, OUT, name)
    os.makedirs(out, exist_ok=True)
    spec = {"model": folder, "sequences": seqs, "loss_mask": masks, "micro_batches": MICRO_BATCHES,
            "optimizer": OPT, "frozen": sorted(frozen)}
    write_json(os.path.join(out, "spec.json"), spec)
    write_json(os.path.join(out, "curve.json"), curve)
    safetensors_io.write_file(os.path.join(out, "grads.safetensors"), grads0)
    safetensors_io.write_file(os.path.join(out, "final.safetensors"),
                              {k: p.detach().clone() for k, p in params.items()})

    print(f"== {name} ({folder}): {sum(v.numel() for v in init.values())} trainable values in "
          f"{len(init)} tensors, frozen {len(frozen)}, targets {sum(map(sum, masks))}")
    if golden_err is not None:
        print(f"  training forward vs golden.jsonl: max |dlogprob| {golden_err:.2e}")
    print("  loss     ", " ".join(f"{x:.5f}" for x in curve["loss"]))
    print("  grad_norm", " ".join(f"{x:.4f}" for x in curve["grad_norm"]))
    print("  lr       ", " ".join(f"{x:.6f}" for x in curve["lr"]))
    if margins[0] is not None:
        gm = min(m[0] for m in margins)
        em = min(m[1] for m in margins)
        print(f"  routing over the 10 steps: min group margin {gm:.2e}, min expert margin {em:.2e}; "
              f"bias changes {margins[0][2]}/{margins[0][3]} first-MoE-layer selections at step 0")
        if em < 1e-3 or gm < 1e-3:
            print("  WARNING: small routing margin")
    if do_f64:
        r = f64_check(name, kind, cfg, init, frozen, seqs, masks, grads0)
        print(f"  f64 check: loss f32 {curve['loss'][0]:.8f} vs f64 {r['loss64']:.8f}; "
              f"max per-tensor ||g32-g64||/||g64|| {r['f32_vs_f64_grad_rel']:.2e} ({r['worst_tensor']}); "
              f"gradcheck on {r['gradcheck_entries']} entries ok; "
              f"directional finite differences max rel err {r['fd_dir_rel']:.2e}")
    size = sum(os.path.getsize(os.path.join(out, x)) for x in os.listdir(out))
    print(f"  wrote {out} ({size / 1024:.0f} KiB)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=None, help="comma-separated names")
    ap.add_argument("--no-f64", action="store_true", help="skip the float64 checks (faster)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    only = set(args.only.split(",")) if args.only else None
    write_dsv3_checkpoint()
    for name, kind, folder, seed in MODELS:
        if only and name not in only:
            continue
        run(name, kind, folder, seed, not args.no_f64)


if __name__ == "__main__":
    main()
