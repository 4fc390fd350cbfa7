#!/usr/bin/python3
"""Cross-checks of deepseek_v3.py and of the committed dsv3-* fixtures (run after
make_deepseek_fixtures.py). Fetches nothing; needs only Debian's torch.

What is compared with what:
 1. FP8 e4m3fn codec: deepseek_v3's table decode vs a bit-formula decode (ldexp) of all 256 codes;
    its encoder vs a brute-force nearest-value search (ties to the even code), saturation, NaN.
 2. RoPE: interleaved pairs give the same q.k as HF's de-interleave + rotate_half.
    YaRN: deepseek_v3.yarn_params vs a scalar float64 rewrite of the docs/FACTS.md formula, and the R1
    numbers docs/FACTS.md states (low 10, high 23, mscale 1.368888, softmax scale 0.1352338).
 3. An OFFICIAL-STYLE model written here in the structure of deepseek-ai/DeepSeek-V3
    inference/model.py (weights renamed as its convert.py does: wq_a, wkv_b, w1/w2/w3, ...; block
    dequantization as kernel.weight_dequant, block by block; precompute_freqs_cis with complex
    numbers and torch.polar; apply_rotary_emb by view_as_complex; MLA in its absorbed einsum order
    with a kv_cache/pe_cache and an additive -inf mask, and in its naive form with k/v caches; Gate
    with -inf group masking; MoE with bincount/where; Block; Transformer over start_pos), in f32,
    against deepseek_v3.py's logits on every golden sequence, as a full prefill and as prefill +
    token-by-token decode. Deviations from the demo, made on purpose so the two compute the
    same function (all noted in deepseek_v3.yarn_params): the YaRN blend and mscale^2 are applied
    (demo: only when max_seq_len > original_seq_len, true here); the gate always has its
    e_score_correction_bias (demo: only when dim == 7168); mscale is taken from mscale_all_dim
    and freqs_cis gets HF's cos/sin magnitude yarn_get_mscale(f, mscale)/yarn_get_mscale(f,
    mscale_all_dim) (1 except in dsv3-qproj-f32); no activation quantization (gemm_impl bf16 path,
    in f32).
 4. deepseek_v3.py absorbed MLA == naive MLA; its MLA cache token by token == full forward.
 5. MTP: its latent cache run one position at a time == the full MTP pass; an independent
    formulation in vLLM's v1 layout (MTP positions = target positions, input ids shifted left by
    one, previous hidden states = the target's final-normed states) built from the official-style
    Block, vs deepseek_v3.mtp_logits.
 6. Routing: -inf (official) and 0.0 (HF remote code) group masking select different experts on
    some tokens of every fixture, and change its logprobs by far more than the tolerance.
 7. The goldens on disk are reproduced from the checkpoint files on disk; tensor names and dtypes
    are those of the real checkpoint; every FP8 weight has a partial block and scales vary.
 8. Mutations: plausible engine bugs (half-split RoPE, no YaRN blend, no mscale^2, no HF cos/sin
    multiplier, mscale instead of mscale_all_dim, 0.0 group masking, biased routing weights, wrong
    FP8 block scales, MTP from the pre-norm hidden state / with swapped concat / off by one) each
    move the goldens by more than 1e-3.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deepseek_v3 as ds  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "models")
NAMES = ["dsv3-bf16", "dsv3-fp8", "dsv3-qproj-f32"]


# ------------------------------------------------------------------------------------ 1. FP8
def fp8_decode_bits(q):
    """Decode by arithmetic on the bit fields (independent of deepseek_v3's table)."""
    q = q.long()
    sign = torch.where(q >= 128, -1.0, 1.0)
    e = (q >> 3) & 15
    m = (q & 7).double()
    normal = torch.ldexp(1.0 + m / 8.0, (e - 7).int())
    sub = torch.ldexp(m / 8.0, torch.full_like(e, -6).int())
    v = sign * torch.where(e == 0, sub, normal)
    v = torch.where((e == 15) & ((q & 7) == 7), torch.tensor(float("nan"), dtype=torch.float64), v)
    return v


def check_fp8_codec():
    codes = torch.arange(256, dtype=torch.uint8)
    a = ds.fp8_e4m3_decode(codes).double()
    b = fp8_decode_bits(codes)
    assert torch.equal(torch.isnan(a), torch.isnan(b)) and torch.equal(a.nan_to_num(), b.nan_to_num())
    assert float(a[0x7e]) == 448.0 and float(a[0x01]) == 2.0 ** -9 and torch.isnan(a[0x7f]) and torch.isnan(a[0xff])
    finite = [c for c in range(256) if c not in (0x7f, 0xff)]
    back = ds.fp8_e4m3_encode(a[finite].float())
    assert back.tolist() == finite, "encode(decode(c)) != c"
    # brute force: nearest finite value, ties to the even code, |x| > 448 -> 448
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20000, generator=g) * torch.exp(torch.randn(20000, generator=g) * 3)
    mids = ((a[1:0x7e] + a[0:0x7d]) / 2).float()  # exact midpoints between neighbours
    x = torch.cat([x, mids, -mids, torch.tensor([500.0, -1e9, 449.0, 464.0, 0.0, -0.0, 1e-30])])
    pos = a[:0x7f]
    mag = x.double().abs().clamp(max=448.0)
    dist = (mag[:, None] - pos[None, :]).abs()
    best = dist.min(1, keepdim=True).values
    cand = (dist == best)
    even = cand & (torch.arange(0x7f)[None, :] % 2 == 0)
    code = torch.where(even.any(1), even.float().argmax(1), cand.float().argmax(1))
    code = code | (torch.signbit(x).long() << 7)
    got = ds.fp8_e4m3_encode(x).long()
    assert torch.equal(got, code), f"{int((got != code).sum())} encodes differ"
    assert int(ds.fp8_e4m3_encode(torch.tensor([float("nan")]))[0]) == 0x7f
    print("fp8 e4m3fn: table == bit-formula decode (256 codes); encoder == brute-force RNE, saturating")


# ------------------------------------------------------------------------------------ 2. YaRN
def yarn_scalar(d, base, factor, orig, beta_fast, beta_slow):
    """float64 scalar docs/FACTS.md formula; returns (freqs, low, high)."""
    def corr(r):
        return d * math.log(orig / (r * 2 * math.pi)) / (2 * math.log(base))
    low = max(math.floor(corr(beta_fast)), 0)
    high = min(math.ceil(corr(beta_slow)), d - 1)
    if low == high:
        high += 0.001
    out = []
    for i in range(d // 2):
        f = base ** (-2 * i / d)
        ramp = min(max((i - low) / (high - low), 0.0), 1.0)
        smooth = 1 - ramp
        out.append(f / factor * (1 - smooth) + f * smooth)
    return out, low, high


def check_yarn():
    r1 = ds.Config({
        "architectures": ["DeepseekV3ForCausalLM"], "hidden_size": 7168, "intermediate_size": 18432,
        "moe_intermediate_size": 2048, "num_hidden_layers": 61, "num_attention_heads": 128,
        "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
        "v_head_dim": 128, "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8,
        "n_group": 8, "topk_group": 4, "routed_scaling_factor": 2.5, "norm_topk_prob": True,
        "first_k_dense_replace": 3, "vocab_size": 129280, "rms_norm_eps": 1e-6, "rope_theta": 10000,
        "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                         "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
        "num_nextn_predict_layers": 1})
    inv, cs, scale = ds.yarn_params(r1)
    ref, low, high = yarn_scalar(64, 10000, 40, 4096, 32, 1)
    assert (low, high) == (10, 23), (low, high)
    assert abs(scale - 0.1352338) < 1e-7 and cs == 1.0, scale
    assert abs(ds.yarn_get_mscale(40, 1.0) - 1.368888) < 1e-6
    assert max(abs(float(a) / b - 1) for a, b in zip(inv, ref)) < 1e-6
    for name in NAMES:
        cfg = ds.Config.load(os.path.join(FIXTURES, name))
        rs = cfg.rope_scaling
        inv, cs, scale = ds.yarn_params(cfg)
        ref, low, high = yarn_scalar(cfg.qk_rope_head_dim, cfg.rope_theta, rs["factor"],
                                     rs["original_max_position_embeddings"], rs["beta_fast"], rs["beta_slow"])
        err = max(abs(float(a) / b - 1) for a, b in zip(inv, ref))
        assert err < 1e-6, (name, err)
        n_blend = sum(1 for i in range(len(ref)) if 0 < (i - low) / (high - low) < 1)
        assert n_blend >= 1, f"{name}: no frequency is blended"
        print(f"yarn {name}: low {low} high {high} ({n_blend} blended), cos/sin x{cs:.6f}, "
              f"softmax scale {scale:.7f}, max rel err vs float64 {err:.1e}")
    print("yarn R1: low 10, high 23, mscale 1.368888, softmax scale 0.1352338 (docs/FACTS.md)")


def check_rope_hf_equivalence():
    """[HF] apply_rotary_pos_emb de-interleaves q/k (view(d/2, 2).transpose) and applies rotate_half
    with cos/sin of cat(freqs, freqs); deepseek_v3 rotates adjacent pairs. Outputs differ by a fixed
    permutation, so every q . k must agree."""
    g = torch.Generator().manual_seed(3)
    d, T = 16, 37
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    pos = torch.arange(T).float()
    freqs = pos[:, None] * inv[None, :]
    q = torch.randn(T, d, generator=g)
    k = torch.randn(T, d, generator=g)
    ours_q = ds.rope_interleaved(q, freqs.cos(), freqs.sin())
    ours_k = ds.rope_interleaved(k, freqs.cos(), freqs.sin())

    def hf(x):
        x = x.view(T, d // 2, 2).transpose(2, 1).reshape(T, d)
        emb = torch.cat([freqs, freqs], -1)
        rot = torch.cat([-x[:, d // 2:], x[:, :d // 2]], -1)
        return x * emb.cos() + rot * emb.sin()
    diff = float((ours_q @ ours_k.t() - hf(q) @ hf(k).t()).abs().max())
    assert diff < 1e-5, diff
    print(f"rope: interleaved pairs == HF de-interleave + rotate_half in every q.k (max diff {diff:.1e})")


# ------------------------------------------------------------------------ 3. official-style model
CONVERT = {  # HF name piece -> official name piece (as inference/convert.py renames)
    "embed_tokens": "embed", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "q_proj": "wq", "q_a_proj": "wq_a", "q_a_layernorm": "q_norm", "q_b_proj": "wq_b",
    "kv_a_proj_with_mqa": "wkv_a", "kv_a_layernorm": "kv_norm", "kv_b_proj": "wkv_b", "o_proj": "wo",
    "gate_proj": "w1", "down_proj": "w2", "up_proj": "w3", "lm_head": "head",
}


def official_weights(raw):
    """HF tensors -> {official name: f32}: model. dropped, self_attn -> attn, mlp -> ffn, pieces as
    CONVERT, e_score_correction_bias -> bias; FP8 dequantized block by block (kernel.weight_dequant:
    y = x.float() * s for each 128 x 128 tile, tiles clipped at the edges)."""
    out = {}
    for name, t in raw.items():
        if name.endswith("_scale_inv"):
            continue
        v = t
        if t.dtype == torch.uint8:
            s = raw[name + "_scale_inv"]
            M, N = t.shape
            v = torch.empty(M, N, dtype=torch.float32)
            for bi in range((M + 127) // 128):
                for bj in range((N + 127) // 128):
                    tile = t[bi * 128:(bi + 1) * 128, bj * 128:(bj + 1) * 128]
                    v[bi * 128:(bi + 1) * 128, bj * 128:(bj + 1) * 128] = fp8_decode_bits(tile).float() * s[bi, bj]
        n = name[len("model."):] if name.startswith("model.") else name
        n = n.replace("self_attn", "attn").replace("mlp", "ffn").replace("e_score_correction_bias", "bias")
        parts = [CONVERT.get(p, p) for p in n.split(".")]
        out[".".join(parts)] = v.float()
    return out


class Official:
    """Structure of inference/model.py Transformer (bsz 1, world_size 1), f32."""

    def __init__(self, cfg, W, max_seq_len=128, attn_impl="absorb"):
        self.a = cfg
        self.W = W
        self.attn_impl = attn_impl
        self.max_seq_len = max_seq_len
        rs = cfg.rope_scaling
        self.qk_head_dim = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
        self.softmax_scale = self.qk_head_dim ** -0.5
        orig = rs["original_max_position_embeddings"]
        if max_seq_len > orig:  # MLA.__init__; mscale from mscale_all_dim (HF), see module doc
            mscale = 0.1 * rs["mscale_all_dim"] * math.log(rs["factor"]) + 1.0
            self.softmax_scale = self.softmax_scale * mscale * mscale
        self.freqs_cis = self.precompute_freqs_cis()
        self.reset()

    def precompute_freqs_cis(self):
        a, rs = self.a, self.a.rope_scaling
        dim, base, factor = a.qk_rope_head_dim, a.rope_theta, rs["factor"]
        orig = rs["original_max_position_embeddings"]
        freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
        if self.max_seq_len > orig:
            def fcd(rot):
                return dim * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(base))
            low = max(math.floor(fcd(rs["beta_fast"])), 0)
            high = min(math.ceil(fcd(rs["beta_slow"])), dim - 1)
            if low == high:
                high += 0.001
            smooth = 1 - torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
            freqs = freqs / factor * (1 - smooth) + freqs * smooth
        t = torch.arange(self.max_seq_len)
        freqs = torch.outer(t, freqs)
        # HF's cos/sin multiplier as the magnitude of the complex rotation (1.0 for R1)
        mag = ds.yarn_get_mscale(factor, rs.get("mscale", 1)) / ds.yarn_get_mscale(factor, rs.get("mscale_all_dim", 0))
        return torch.polar(torch.full_like(freqs, mag), freqs)

    @staticmethod
    def apply_rotary_emb(x, freqs_cis):
        dtype = x.dtype
        xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        fc = freqs_cis.view(1, xc.size(1), 1, xc.size(-1))
        return torch.view_as_real(xc * fc).flatten(3).to(dtype)

    def rmsnorm(self, x, w, eps):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def reset(self):
        a = self.a
        L = a.num_hidden_layers + (1 if a.num_nextn_predict_layers else 0)
        self.kv_cache = [torch.zeros(1, self.max_seq_len, a.kv_lora_rank) for _ in range(L)]
        self.pe_cache = [torch.zeros(1, self.max_seq_len, a.qk_rope_head_dim) for _ in range(L)]
        nh = a.num_attention_heads
        self.k_cache = [torch.zeros(1, self.max_seq_len, nh, self.qk_head_dim) for _ in range(L)]
        self.v_cache = [torch.zeros(1, self.max_seq_len, nh, a.v_head_dim) for _ in range(L)]

    def mla(self, i, x, start_pos, freqs_cis, mask):
        a, W = self.a, self.W
        p = f"layers.{i}.attn."
        bsz, seqlen, _ = x.size()
        end_pos = start_pos + seqlen
        nh = a.num_attention_heads
        if a.q_lora_rank is None:
            q = F.linear(x, W[p + "wq.weight"])
        else:
            q = F.linear(self.rmsnorm(F.linear(x, W[p + "wq_a.weight"]), W[p + "q_norm.weight"], 1e-6), W[p + "wq_b.weight"])
        q = q.view(bsz, seqlen, nh, self.qk_head_dim)
        q_nope, q_pe = torch.split(q, [a.qk_nope_head_dim, a.qk_rope_head_dim], dim=-1)
        q_pe = self.apply_rotary_emb(q_pe, freqs_cis)
        kv = F.linear(x, W[p + "wkv_a.weight"])
        kv, k_pe = torch.split(kv, [a.kv_lora_rank, a.qk_rope_head_dim], dim=-1)
        k_pe = self.apply_rotary_emb(k_pe.unsqueeze(2), freqs_cis)
        kv_norm = self.rmsnorm(kv, W[p + "kv_norm.weight"], 1e-6)
        wkv_b = W[p + "wkv_b.weight"]
        if self.attn_impl == "naive":
            qq = torch.cat([q_nope, q_pe], dim=-1)
            kvb = F.linear(kv_norm, wkv_b).view(bsz, seqlen, nh, a.qk_nope_head_dim + a.v_head_dim)
            k_nope, v = torch.split(kvb, [a.qk_nope_head_dim, a.v_head_dim], dim=-1)
            k = torch.cat([k_nope, k_pe.expand(-1, -1, nh, -1)], dim=-1)
            self.k_cache[i][:bsz, start_pos:end_pos] = k
            self.v_cache[i][:bsz, start_pos:end_pos] = v
            scores = torch.einsum("bshd,bthd->bsht", qq, self.k_cache[i][:bsz, :end_pos]) * self.softmax_scale
        else:
            wkv_b = wkv_b.view(nh, -1, a.kv_lora_rank)
            q_nope = torch.einsum("bshd,hdc->bshc", q_nope, wkv_b[:, :a.qk_nope_head_dim])
            self.kv_cache[i][:bsz, start_pos:end_pos] = kv_norm
            self.pe_cache[i][:bsz, start_pos:end_pos] = k_pe.squeeze(2)
            scores = (torch.einsum("bshc,btc->bsht", q_nope, self.kv_cache[i][:bsz, :end_pos]) +
                      torch.einsum("bshr,btr->bsht", q_pe, self.pe_cache[i][:bsz, :end_pos])) * self.softmax_scale
        if mask is not None:
            scores = scores + mask.unsqueeze(1)
        scores = scores.softmax(dim=-1, dtype=torch.float32)
        if self.attn_impl == "naive":
            x = torch.einsum("bsht,bthd->bshd", scores, self.v_cache[i][:bsz, :end_pos])
        else:
            x = torch.einsum("bsht,btc->bshc", scores, self.kv_cache[i][:bsz, :end_pos])
            x = torch.einsum("bshc,hdc->bshd", x, wkv_b[:, -a.v_head_dim:])
        return F.linear(x.flatten(2), W[p + "wo.weight"])

    def mlp(self, p, x):
        W = self.W
        return F.linear(F.silu(F.linear(x, W[p + "w1.weight"])) * F.linear(x, W[p + "w3.weight"]), W[p + "w2.weight"])

    def gate(self, p, x, mask_value=float("-inf")):
        a, W = self.a, self.W
        scores = F.linear(x, W[p + "weight"]).sigmoid()
        original_scores = scores
        scores = scores + W[p + "bias"]
        if a.n_group > 1:
            scores = scores.view(x.size(0), a.n_group, -1)
            group_scores = scores.topk(2, dim=-1)[0].sum(dim=-1)
            indices = group_scores.topk(a.topk_group, dim=-1)[1]
            mask = scores.new_ones(x.size(0), a.n_group, dtype=torch.bool).scatter_(1, indices, False)
            scores = scores.masked_fill_(mask.unsqueeze(-1), mask_value).flatten(1)
        indices = torch.topk(scores, a.num_experts_per_tok, dim=-1)[1]
        weights = original_scores.gather(1, indices)
        weights = weights / weights.sum(dim=-1, keepdim=True)
        weights = weights * a.routed_scaling_factor
        return weights, indices

    def moe(self, i, x):
        a = self.a
        p = f"layers.{i}.ffn."
        shape = x.size()
        x = x.view(-1, a.hidden_size)
        weights, indices = self.gate(p + "gate.", x)
        y = torch.zeros_like(x)
        counts = torch.bincount(indices.flatten(), minlength=a.n_routed_experts).tolist()
        for e in range(a.n_routed_experts):
            if counts[e] == 0:
                continue
            idx, top = torch.where(indices == e)
            y[idx] += self.mlp(f"{p}experts.{e}.", x[idx]) * weights[idx, top, None]
        z = self.mlp(p + "shared_experts.", x)
        return (y + z).view(shape)

    def block(self, i, x, start_pos, freqs_cis, mask):
        W, eps = self.W, self.a.rms_norm_eps
        x = x + self.mla(i, self.rmsnorm(x, W[f"layers.{i}.attn_norm.weight"], eps), start_pos, freqs_cis, mask)
        h = self.rmsnorm(x, W[f"layers.{i}.ffn_norm.weight"], eps)
        if i < self.a.first_k_dense_replace:
            return x + self.mlp(f"layers.{i}.ffn.", h)
        return x + self.moe(i, h)

    def forward(self, tokens, start_pos=0):
        """tokens [1, S] -> (logits [S, V] of every position, final-normed h [S, H])."""
        seqlen = tokens.size(1)
        h = self.W["embed.weight"][tokens]
        freqs_cis = self.freqs_cis[start_pos:start_pos + seqlen]
        mask = None
        if seqlen > 1:
            mask = torch.full((seqlen, seqlen), float("-inf")).triu_(1)
            if start_pos:  # prefill after a prefix (not in the demo): all cached keys visible
                mask = torch.cat([torch.zeros(seqlen, start_pos), mask], dim=1)
        for i in range(self.a.num_hidden_layers):
            h = self.block(i, h, start_pos, freqs_cis, mask)
        h = self.rmsnorm(h, self.W["norm.weight"], self.a.rms_norm_eps)[0]
        return F.linear(h, self.W["head.weight"]), h

    def mtp_vllm_v1(self, ids, h_target):
        """vLLM v1 layout: MTP input ids = ids shifted left (ids[1:]), positions = target positions
        0..T-2, previous hidden = h_target[:-1]; DeepSeekMultiTokenPredictorLayer without its
        position-0 zeroing (see deepseek_v3.mtp_logits); logits = shared_head.head(shared_head.norm)."""
        a, W, eps = self.a, self.W, self.a.rms_norm_eps
        N = a.num_hidden_layers
        p = f"layers.{N}."
        input_ids = torch.tensor(ids[1:])[None]
        inputs_embeds = W[p + "embed.weight"][input_ids]
        prev = h_target[:-1][None]
        hs = F.linear(torch.cat([self.rmsnorm(inputs_embeds, W[p + "enorm.weight"], eps),
                                 self.rmsnorm(prev, W[p + "hnorm.weight"], eps)], dim=-1), W[p + "eh_proj.weight"])
        seqlen = hs.size(1)
        mask = torch.full((seqlen, seqlen), float("-inf")).triu_(1) if seqlen > 1 else None
        hs = self.block(N, hs, 0, self.freqs_cis[:seqlen], mask)
        return F.linear(self.rmsnorm(hs, W[p + "shared_head.norm.weight"], eps), W[p + "shared_head.head.weight"])[0]


# ------------------------------------------------------------------------------------ helpers
def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def expected_names(cfg, fp8):
    """The real checkpoint's tensor names for this config (docs/FACTS.md section 2)."""
    names = {"model.embed_tokens.weight": "W", "model.norm.weight": "W", "lm_head.weight": "W"}
    quantized = []
    layers = list(range(cfg.num_hidden_layers)) + ([cfg.num_hidden_layers] if cfg.num_nextn_predict_layers else [])
    for L in layers:
        p = f"model.layers.{L}."
        names[p + "input_layernorm.weight"] = "W"
        names[p + "post_attention_layernorm.weight"] = "W"
        a = p + "self_attn."
        lin = ([a + "q_proj.weight"] if cfg.q_lora_rank is None else [a + "q_a_proj.weight", a + "q_b_proj.weight"])
        lin += [a + "kv_a_proj_with_mqa.weight", a + "kv_b_proj.weight", a + "o_proj.weight"]
        if cfg.q_lora_rank is not None:
            names[a + "q_a_layernorm.weight"] = "W"
        names[a + "kv_a_layernorm.weight"] = "W"
        mlps = []
        if cfg.is_moe_layer(L):
            names[p + "mlp.gate.weight"] = "W"
            names[p + "mlp.gate.e_score_correction_bias"] = "F32"
            mlps = [f"{p}mlp.experts.{e}." for e in range(cfg.n_routed_experts)] + [p + "mlp.shared_experts."]
        else:
            mlps = [p + "mlp."]
        for m in mlps:
            lin += [m + "gate_proj.weight", m + "up_proj.weight", m + "down_proj.weight"]
        for n in lin:
            names[n] = "FP8" if fp8 else "W"
            if fp8:
                names[n + "_scale_inv"] = "F32"
                quantized.append(n)
    if cfg.num_nextn_predict_layers:
        p = f"model.layers.{cfg.num_hidden_layers}."
        for n in ("embed_tokens.weight", "enorm.weight", "hnorm.weight", "eh_proj.weight",
                  "shared_head.norm.weight", "shared_head.head.weight"):
            names[p + n] = "W"
    return names, quantized


def check_fixture(name):
    folder = os.path.join(FIXTURES, name)
    cfg = ds.Config.load(folder)
    raw = safetensors_io.read_folder(folder)
    fp8 = "quantization_config" in cfg.raw
    want, quantized = expected_names(cfg, fp8)
    assert set(raw) == set(want), f"{name}: names differ: {sorted(set(raw) ^ set(want))[:6]}"
    wdt = {"bfloat16": torch.bfloat16, "float32": torch.float32}[cfg.raw["torch_dtype"]]
    for n, kind in want.items():
        dt = {"W": wdt, "F32": torch.float32, "FP8": torch.uint8}[kind]
        assert raw[n].dtype == dt, f"{name}: {n} is {raw[n].dtype}, expected {dt}"
    if fp8:
        multi = 0
        for n in quantized:
            M, N = raw[n].shape
            assert M % 128 or N % 128, f"{n} {M}x{N} has no partial block"
            multi += (M > 128) or (N > 128)
            s = raw[n + "_scale_inv"]
            assert s.numel() == 1 or s.unique().numel() == s.numel(), f"{n}: scales repeat"
        assert multi > 0
        print(f"{name}: {len(quantized)} FP8 weights, each with a partial 128-block, {multi} with more than one block")

    model = ds.DeepseekV3Model(cfg, raw)
    naive = ds.DeepseekV3Model(cfg, raw, mla_form="naive")
    wide = ds.DeepseekV3Model(cfg, raw, dtype=torch.float64)
    off = Official(cfg, official_weights(raw), max_seq_len=cfg.raw["max_position_embeddings"])
    off_naive = Official(cfg, official_weights(raw), max_seq_len=cfg.raw["max_position_embeddings"], attn_impl="naive")
    goldens = read_jsonl(os.path.join(folder, "golden.jsonl"))
    tops = read_jsonl(os.path.join(folder, "golden_top.jsonl"))
    mtps = read_jsonl(os.path.join(folder, "golden_mtp.jsonl")) if model.has_mtp else None
    d_off = d_offn = d_naive = d_inc = d_offinc = d_gold = d_mtp = d_f64 = d_f64lp = d_f64mtp = d_mtpinc = 0.0
    for si, g in enumerate(goldens):
        ids = g["ids"]
        T = len(ids)
        logits = model.forward(ids)
        h = model.hidden_states(ids)
        off.reset()
        lo, h_off = off.forward(torch.tensor(ids)[None])
        d_off = max(d_off, float((lo - logits).abs().max()))
        off_naive.reset()
        d_offn = max(d_offn, float((off_naive.forward(torch.tensor(ids)[None])[0] - logits).abs().max()))
        d_naive = max(d_naive, float((naive.forward(ids) - logits).abs().max()))
        d_f64 = max(d_f64, float((wide.forward(ids) - logits.double()).abs().max()))
        d_f64lp = max([d_f64lp] + [abs(a - b) for a, b in zip(ds.score(wide, ids), g["logprobs"])])
        if model.has_mtp and T >= 3:
            d_f64mtp = max([d_f64mtp] + [abs(a - b) for a, b in zip(ds.score_mtp(wide, ids), mtps[si]["mtp_logprobs"])])
        # reference MLA cache, one token at a time
        cache = model.new_cache(T)
        inc = torch.cat([model.forward([t], cache) for t in ids])
        d_inc = max(d_inc, float((inc - logits).abs().max()))
        # official: prefill half, then decode token by token with start_pos
        off.reset()
        k = max(1, T // 2)
        parts = [off.forward(torch.tensor(ids[:k])[None], 0)[0]]
        for pos in range(k, T):
            parts.append(off.forward(torch.tensor(ids[pos:pos + 1])[None], pos)[0])
        d_offinc = max(d_offinc, float((torch.cat(parts) - logits).abs().max()))
        # goldens on disk reproduce
        lp = ds.score(model, ids)
        d_gold = max([d_gold] + [abs(a - b) for a, b in zip(lp, g["logprobs"])])
        assert tops[si]["ids"] == ids and tops[si]["argmax"] == logits.argmax(-1).tolist()
        if mtps is not None:
            ml = model.mtp_logits(ids, h)
            if T >= 2:
                mo = off.mtp_vllm_v1(ids, h_off)
                d_mtp = max(d_mtp, float((mo - ml).abs().max()))
            if T >= 2:  # MTP with its own latent cache, one position at a time
                mc = model.new_mtp_cache(T)
                step = torch.cat([model.mtp_forward([ids[j + 1]], h[j:j + 1], mc) for j in range(T - 1)])
                d_mtpinc = max(d_mtpinc, float((step - ml).abs().max()))
            lpm = ds.score_mtp(model, ids)
            assert len(lpm) == max(T - 2, 0) and mtps[si]["ids"] == ids
            d_gold = max([d_gold] + [abs(a - b) for a, b in zip(lpm, mtps[si]["mtp_logprobs"])])
    print(f"{name}: max |logit diff| official-style absorbed {d_off:.2e}, official-style naive {d_offn:.2e}, "
          f"official-style prefill+decode {d_offinc:.2e}; reference naive vs absorbed {d_naive:.2e}, "
          f"reference cache vs full {d_inc:.2e}" + (f", MTP vs vLLM-layout {d_mtp:.2e}, MTP cache step by step vs full {d_mtpinc:.2e}" if mtps else "")
          + f"; goldens reproduced within {d_gold:.1e}")
    print(f"{name}: f32 noise: float64 evaluation of the same function differs by {d_f64:.2e} in logits, "
          f"{d_f64lp:.2e} in golden logprobs" + (f", {d_f64mtp:.2e} in golden mtp_logprobs" if mtps else ""))
    assert d_off < 1e-4 and d_offn < 1e-4 and d_offinc < 1e-4 and d_naive < 1e-4 and d_inc < 1e-4 and d_mtp < 1e-4 and d_mtpinc < 1e-4
    assert d_gold < 1e-6

    # 6. -inf vs 0 group masking
    seq = goldens[-1]["ids"] + tops[-1]["greedy"]
    logs = []
    lps = []
    for mv in (float("-inf"), 0.0):
        model.gate_mask_value = mv
        model.route_log = []
        lps.append(torch.tensor(ds.score(model, seq)))
        if model.has_mtp:
            model.mtp_logits(seq)
        logs.append(model.route_log)
    model.gate_mask_value = float("-inf")
    model.route_log = None
    first_layer = cfg.first_k_dense_replace
    a = [r for r in logs[0] if r["layer"] == first_layer][0]
    b = [r for r in logs[1] if r["layer"] == first_layer][0]
    n_diff = int((a["experts"] != b["experts"]).any(-1).sum())
    used = torch.bincount(a["experts"].flatten(), minlength=cfg.n_routed_experts)
    d_lp = float((lps[0] - lps[1]).abs().max())
    print(f"{name}: layer {first_layer} on the 100+16-token sequence: -inf vs 0 masking choose different "
          f"experts for {n_diff}/{len(seq)} tokens (max |logprob change| {d_lp:.3f}); expert use {used.tolist()}")
    assert n_diff > 0 and d_lp > 1e-2 and int((used > 0).sum()) == cfg.n_routed_experts


# ------------------------------------------------------------------ 8. mutations the goldens catch
class BiasInWeights(ds.DeepseekV3Model):
    """Bug: routing weights taken from the BIASED scores."""

    def route(self, layer, h):
        idx, _ = super().route(layer, h)
        p = f"model.layers.{layer}.mlp.gate."
        b = torch.sigmoid(h @ self.w[p + "weight"].t()) + self.w[p + "e_score_correction_bias"]
        wts = b.gather(1, idx)
        return idx, wts / wts.sum(-1, keepdim=True) * self.cfg.routed_scaling_factor


def rope_half_split(x, cos, sin):
    """Bug: Qwen/Llama-style rotate_half pairing (i, i + d/2) instead of adjacent pairs."""
    h = x.shape[-1] // 2
    x0, x1 = x[..., :h], x[..., h:]
    return torch.cat([x0 * cos - x1 * sin, x1 * cos + x0 * sin], dim=-1)


def check_mutations(name):
    """Each plausible engine bug moves the goldens by more than 1e-3 (so a 1e-3 test catches it)."""
    folder = os.path.join(FIXTURES, name)
    cfg = ds.Config.load(folder)
    raw = safetensors_io.read_folder(folder)
    goldens = read_jsonl(os.path.join(folder, "golden.jsonl"))
    mtps = read_jsonl(os.path.join(folder, "golden_mtp.jsonl")) if cfg.num_nextn_predict_layers else None
    seqs = [g["ids"] for g in goldens[2:]]  # 7, 40, 100 tokens

    def dev(model, mtp=False):
        d = 0.0
        for si, ids in enumerate(seqs):
            ref = (mtps if mtp else goldens)[si + 2]["mtp_logprobs" if mtp else "logprobs"]
            got = ds.score_mtp(model, ids) if mtp else ds.score(model, ids)
            d = max([d] + [abs(a - b) for a, b in zip(got, ref)])
        return d

    out = {}
    m = ds.DeepseekV3Model(cfg, raw)
    base_inv, base_cs, base_scale = m.inv_freq, m.cos_sin_scale, m.softmax_scale
    plain = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.qk_rope_head_dim, 2).float() / cfg.qk_rope_head_dim))
    m.inv_freq = plain
    out["no YaRN frequency blend"] = dev(m)
    m.inv_freq = base_inv
    m.softmax_scale = (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim) ** -0.5
    out["softmax scale without mscale^2"] = dev(m)
    m.softmax_scale = base_scale
    if base_cs != 1.0:
        m.cos_sin_scale = 1.0
        out["no HF cos/sin multiplier"] = dev(m)
        m.cos_sin_scale = base_cs
        rs = cfg.rope_scaling
        mm = ds.yarn_get_mscale(rs["factor"], rs["mscale"])
        m.softmax_scale = (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim) ** -0.5 * mm * mm
        out["mscale^2 from mscale, not mscale_all_dim"] = dev(m)
        m.softmax_scale = base_scale
    saved = ds.rope_interleaved
    ds.rope_interleaved = rope_half_split
    try:
        out["half-split RoPE"] = dev(m)
    finally:
        ds.rope_interleaved = saved
    m.gate_mask_value = 0.0
    out["group mask 0.0 instead of -inf"] = dev(m)
    m.gate_mask_value = float("-inf")
    out["routing weights from biased scores"] = dev(BiasInWeights(cfg, raw))
    if "quantization_config" in cfg.raw:
        one = {k: (torch.full_like(v, float(v[0, 0])) if k.endswith("_scale_inv") else v) for k, v in raw.items()}
        out["FP8: first block's scale for the whole weight"] = dev(ds.DeepseekV3Model(cfg, one))
        tr = {}
        for k, v in raw.items():  # scale of the block at [n // 128, m // 128] where shapes allow
            tr[k] = v.t().contiguous() if k.endswith("_scale_inv") and v.shape[0] == v.shape[1] and v.shape[0] > 1 else v
        out["FP8: scale blocks transposed (square scale grids)"] = dev(ds.DeepseekV3Model(cfg, tr))
    if mtps is not None:
        def mtp_dev(fn):
            d = 0.0
            for si, ids in enumerate(seqs):
                lp = torch.log_softmax(fn(ids).double(), -1)[:-1]
                got = lp.gather(1, torch.tensor(ids[2:])[:, None])[:, 0].tolist()
                d = max([d] + [abs(a - b) for a, b in zip(got, mtps[si + 2]["mtp_logprobs"])])
            return d

        def prenorm(ids):  # main hidden state BEFORE the final norm
            x = m.w["model.embed_tokens.weight"][torch.tensor(ids)]
            for L in range(cfg.num_hidden_layers):
                x = m.decoder_layer(L, x, None, 0)
            return x
        out["MTP: h_prev before the final norm"] = mtp_dev(lambda ids: m.mtp_logits(ids, prenorm(ids)))
        N = cfg.num_hidden_layers
        W = m.w[f"model.layers.{N}.eh_proj.weight"]
        H = cfg.hidden_size
        m.w[f"model.layers.{N}.eh_proj.weight"] = torch.cat([W[:, H:], W[:, :H]], dim=1)
        out["MTP: concat(hnorm(h), enorm(e)) order"] = mtp_dev(lambda ids: m.mtp_logits(ids))
        m.w[f"model.layers.{N}.eh_proj.weight"] = W
        p = f"model.layers.{N}."

        def zero_first(ids):  # vLLM: inputs_embeds[positions == 0] = 0, otherwise as mtp_logits
            t = torch.tensor(ids)
            e = m.mtp_embed[t[1:]].clone()
            e[0] = 0
            h = m.hidden_states(ids)[:-1]
            x = torch.cat([m.rms_norm(e, m.w[p + "enorm.weight"]), m.rms_norm(h, m.w[p + "hnorm.weight"])], -1)
            x = m.decoder_layer(N, x @ m.w[p + "eh_proj.weight"].t(), None, 0)
            return m.rms_norm(x, m.w[p + "shared_head.norm.weight"]) @ m.mtp_head.t()
        out["MTP: embedding zeroed at position 0 (vLLM)"] = mtp_dev(zero_first)
        out["MTP: predicts ids[j+1] instead of ids[j+2]"] = max(
            abs(a - b) for si, ids in enumerate(seqs)
            for a, b in zip(torch.log_softmax(m.mtp_logits(ids).double(), -1)[:-1].gather(
                1, torch.tensor(ids[1:-1])[:, None])[:, 0].tolist(), mtps[si + 2]["mtp_logprobs"]))
    for k, v in out.items():
        print(f"  {name}: {k}: max |logprob - golden| = {v:.3g}")
    weak = [k for k, v in out.items() if v <= 1e-3]
    assert not weak, f"{name}: goldens do not catch {weak}"


def main():
    torch.set_num_threads(1)
    check_fp8_codec()
    check_yarn()
    check_rope_hf_equivalence()
    for name in NAMES:
        check_fixture(name)
    print("mutations (each must move the goldens by > 1e-3):")
    for name in NAMES:
        check_mutations(name)
    print("all DeepSeek-V3 checks passed")


if __name__ == "__main__":
    main()
