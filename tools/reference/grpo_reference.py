#!/usr/bin/python3
"""GRPO goldens: for fixed prompts, completions, rewards and old/reference log-probabilities on a
tiny Qwen2 model, the policy loss and its gradient with respect to every weight, for each variant
r1 implements. The C++ trainer (src/train/policy_loss.h, ops::token_logprobs) must reproduce them.

THE OBJECTIVE (written here with PyTorch autograd, independently of the C++ closed-form gradient):
  Sequences  spec "sequences" = prompt + completion ids; the completion of sequence i starts at
             "prompt_lens"[i]; its tokens are the targets ids[p..] predicted from positions p-1...
             Sequences are independent (positions from 0, causal attention within the sequence).
  Log-probs  lp_t = log_softmax(logits_t / temperature)[target_t] in f32, for completion targets.
  Groups     consecutive runs of G = spec "group" sequences share a prompt; rewards spec "rewards".
  Advantage  grpo:   (r - mean_g) / (std_g + 1e-4), std with Bessel's correction (torch.std)
             drgrpo: r - mean_g
             rloo:   r_i - mean of the other G-1 rewards
  Ratio      token: exp(lp_t - old_t); sequence (GSPO): exp(mean_t (lp_t - old_t)) for every token
             of the sequence (TRL's importance_sampling_level="sequence", no stop-gradient).
             old_t from spec "old_logprobs", except variant "onpolicy", where old = lp.detach().
  Surrogate  J_t = min(ratio A, clamp(ratio, 1 - eps_low, 1 + eps_high) A)  (torch.min/clamp)
  KL (k3)    D_t = exp(ref_t - lp_t) - (ref_t - lp_t) - 1, ref from spec "ref_logprobs"
  Loss       L = sum_i w_i sum_t -(J_t - beta D_t);  w_i: seq-mean 1/(N |o_i|), token-mean
             1/sum|o|, constant 1/(N max_len)  (N sequences of the whole step)
  Micro-batches  spec "micro_batches": one backward per micro-batch of the loss terms of its
             sequences (weights from the whole step); gradients accumulate (== full batch).

OUTPUTS, tests/fixtures/grpo/:
  model/             config.json + model.safetensors (tied embeddings, f32)
  spec.json          the data above, "variants": {name: config}, and for each variant its
                     "loss", "advantages" and the per-sequence "logprobs" (lp at the weights)
  grads-<variant>.safetensors   dL/dw for every weight (f32)
SELF-CHECKS: the gradients of a group whose rewards are all equal vanish (beta 0); finite
differences in float64 on one weight entry per tensor for every variant.
Deterministic. Run: /usr/bin/python3 tools/reference/grpo_reference.py
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dense  # noqa: E402
import make_fixtures  # noqa: E402
import safetensors_io  # noqa: E402
import train_reference as tr  # noqa: E402

REPO = tr.REPO
OUT = os.path.join(REPO, "tests", "fixtures", "grpo")
FX = dict(name="grpo-model", arch="qwen2", dtype="f32", seed=606,
          hidden=32, layers=2, heads=4, kv_heads=2, head_dim=None, inter=48, vocab=96,
          eps=1e-6, theta=10000.0, rope_scaling=None, tied=True, bias=True, shards=1)
GROUP = 4
PROMPT_LENS = [5, 5, 5, 5, 7, 7, 7, 7]
COMPLETION_LENS = [3, 6, 9, 4, 8, 2, 5, 7]
REWARDS = [1.0, 0.0, 0.0, 1.0, 0.1, 1.0, 0.0, 0.1]
TEMPERATURE = 0.8
MICRO_BATCHES = [[0, 1, 2, 3], [4, 5, 6, 7]]
MAX_LEN = 12
VARIANTS = {
    "grpo": dict(advantage="grpo", aggregation="seq-mean", eps_low=0.2, eps_high=0.2, beta=0.04,
                 sequence_ratio=False, on_policy=False),
    "onpolicy": dict(advantage="grpo", aggregation="seq-mean", eps_low=0.2, eps_high=0.2,
                     beta=0.04, sequence_ratio=False, on_policy=True),
    "dapo": dict(advantage="grpo", aggregation="token-mean", eps_low=0.2, eps_high=0.28, beta=0.0,
                 sequence_ratio=False, on_policy=False),
    "drgrpo": dict(advantage="drgrpo", aggregation="constant", eps_low=0.2, eps_high=0.2,
                   beta=0.0, sequence_ratio=False, on_policy=False),
    "rloo": dict(advantage="rloo", aggregation="seq-mean", eps_low=0.2, eps_high=0.2, beta=0.02,
                 sequence_ratio=False, on_policy=False),
    "gspo": dict(advantage="grpo", aggregation="seq-mean", eps_low=0.03, eps_high=0.04, beta=0.0,
                 sequence_ratio=True, on_policy=False),
}


def advantages(rewards, group, kind):
    r = torch.tensor(rewards, dtype=torch.float64).view(-1, group)
    mean = r.mean(1, keepdim=True)
    if kind == "grpo":
        a = (r - mean) / (r.std(1, keepdim=True) + 1e-4)
    elif kind == "drgrpo":
        a = r - mean
    else:
        a = (r.sum(1, keepdim=True) - r) / (group - 1)
        a = r - a
    return a.flatten().tolist()


def weights(lengths, kind):
    n = len(lengths)
    if kind == "seq-mean":
        return [1.0 / (n * l) for l in lengths]
    if kind == "token-mean":
        return [1.0 / sum(lengths)] * n
    return [1.0 / (n * MAX_LEN)] * n


def completion_logprobs(model, ids, p):
    """log softmax(logits / T)[target] of the completion targets ids[p:], graph kept."""
    logits = model.forward(ids)  # [T, V]
    lp = torch.log_softmax(logits[p - 1:-1] / TEMPERATURE, dim=-1)
    tgt = torch.as_tensor(ids[p:], dtype=torch.long)
    return lp.gather(1, tgt[:, None])[:, 0]


def sequence_loss(lp, i, var, adv, w, old, ref):
    o = lp.detach() if var["on_policy"] else torch.tensor(old[i], dtype=lp.dtype)
    log_ratio = lp - o
    if var["sequence_ratio"]:
        log_ratio = log_ratio.mean().expand_as(lp)
    c1 = torch.exp(log_ratio)
    c2 = torch.clamp(c1, 1 - var["eps_low"], 1 + var["eps_high"])
    A = adv[i]
    J = torch.min(c1 * A, c2 * A)
    loss = -J
    if var["beta"] > 0:
        d = torch.tensor(ref[i], dtype=lp.dtype) - lp
        loss = loss + var["beta"] * (torch.exp(d) - d - 1)
    return w[i] * loss.sum()


def run_variant(model, params, seqs, var, old, ref):
    adv = advantages(REWARDS, GROUP, var["advantage"])
    w = weights(COMPLETION_LENS, var["aggregation"])
    for p in params.values():
        p.grad = None
    total = 0.0
    for mb in MICRO_BATCHES:
        part = sum(sequence_loss(completion_logprobs(model, seqs[i], PROMPT_LENS[i]), i, var, adv, w,
                                 old, ref) for i in mb)
        part.backward()
        total += float(part)
    grads = {k: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone()
             for k, p in params.items()}
    return total, adv, grads


def full_loss(model, seqs, var, old, ref):
    adv = advantages(REWARDS, GROUP, var["advantage"])
    w = weights(COMPLETION_LENS, var["aggregation"])
    return sum(sequence_loss(completion_logprobs(model, seqs[i], PROMPT_LENS[i]), i, var, adv, w,
                             old, ref) for i in range(len(seqs)))


def main():
    folder = os.path.join(OUT, "model")
    weights0 = make_fixtures.make_weights(FX)
    make_fixtures.write_checkpoint(folder, weights0, 1)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(make_fixtures.make_config(FX), f, indent=2)
        f.write("\n")
    cfg = dense.Config.load(folder)
    init = {k: v.float() for k, v in sorted(safetensors_io.read_folder(folder).items())}
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    model = tr.build_model("dense", cfg, params, {}, torch.float32)

    g = torch.Generator().manual_seed(6061)
    seqs = []
    for i, (p, c) in enumerate(zip(PROMPT_LENS, COMPLETION_LENS)):
        if i % GROUP == 0:
            prompt = torch.randint(3, FX["vocab"], (p,), generator=g).tolist()
        seqs.append(prompt + torch.randint(3, FX["vocab"], (c,), generator=g).tolist())
    with torch.no_grad():
        now = [completion_logprobs(model, s, p) for s, p in zip(seqs, PROMPT_LENS)]
    # old: the sampling policy a little away from the current one, so that ratios spread over
    # [0.6, 1.6] and every clip branch is exercised; ref: another nearby policy.
    old = [(x + 0.2 * torch.randn(x.shape, generator=g)).tolist() for x in now]
    ref = [(x + 0.1 * torch.randn(x.shape, generator=g)).tolist() for x in now]

    spec = {"model": os.path.relpath(folder, REPO), "sequences": seqs, "prompt_lens": PROMPT_LENS,
            "group": GROUP, "rewards": REWARDS, "temperature": TEMPERATURE,
            "micro_batches": MICRO_BATCHES, "max_len": MAX_LEN, "old_logprobs": old,
            "ref_logprobs": ref, "logprobs": [x.tolist() for x in now], "variants": {}}
    for name, var in VARIANTS.items():
        loss, adv, grads = run_variant(model, params, seqs, var, old, ref)
        spec["variants"][name] = dict(var, loss=loss, advantages=adv)
        safetensors_io.write_file(os.path.join(OUT, f"grads-{name}.safetensors"), grads)
        # float64 finite differences on the largest-gradient entry of every tensor. The on-policy
        # objective's value does not move with the weights (its ratio is 1 by construction); its
        # gradient is that of the objective with old fixed at the current log-probabilities.
        fd_var, fd_old = var, old
        if var["on_policy"]:
            fd_var, fd_old = dict(var, on_policy=False), [x.tolist() for x in now]
        p64 = {k: v.double() for k, v in init.items()}
        m64 = tr.build_model("dense", cfg, {k: v.clone() for k, v in p64.items()}, {},
                             torch.float64)
        worst = 0.0
        for k in sorted(init):
            i = int(grads[k].abs().flatten().argmax())
            h = 1e-6
            vals = []
            for sgn in (1, -1):
                flat = p64[k].clone().flatten()
                flat[i] += sgn * h
                m64.w[k] = flat.view(p64[k].shape)
                if k == "model.embed_tokens.weight":
                    m64.embed = m64.lm_head = m64.w[k]
                with torch.no_grad():
                    vals.append(float(full_loss(m64, seqs, fd_var, fd_old, ref)))
            m64.w[k] = p64[k]
            if k == "model.embed_tokens.weight":
                m64.embed = m64.lm_head = p64[k]
            fd = (vals[0] - vals[1]) / (2 * h)
            an = float(grads[k].flatten()[i])
            worst = max(worst, abs(fd - an) / max(1e-6, abs(fd)))
        clipped = sum(1 for i in range(len(seqs)) for a, b in zip(now[i].tolist(), old[i])
                      if not (1 - var["eps_low"] <= math.exp(a - b) <= 1 + var["eps_high"]))
        print(f"{name:9s} loss {loss:+.6f}  tokens outside the trust region {clipped:2d}  "
              f"f32 grad vs f64 finite differences: worst rel {worst:.1e}")
        if worst > 2e-3:
            raise SystemExit(f"{name}: gradient disagrees with finite differences")
    # All-equal rewards in a group: zero advantage, so (beta 0) that group adds no gradient.
    var = dict(VARIANTS["dapo"])
    saved = list(REWARDS)
    REWARDS[:] = [0.5] * len(REWARDS)
    loss, _, grads = run_variant(model, params, seqs, var, old, ref)
    REWARDS[:] = saved
    assert loss == 0 and all(float(x.abs().max()) == 0 for x in grads.values())
    with open(os.path.join(OUT, "spec.json"), "w") as f:
        json.dump(spec, f)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(dp, x)) for dp, _, fs in os.walk(OUT) for x in fs)
    print(f"wrote {OUT} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
