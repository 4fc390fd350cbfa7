#!/usr/bin/python3
"""Independent PyTorch eager reference of DeepseekV3ForCausalLM (DeepSeek-V3 / R1), f32 only.

Written from the formulas (not the code) of:
  [HF]   Hugging Face deepseek-ai/DeepSeek-V3 modeling_deepseek.py (the checkpoint's remote code)
  [OFF]  deepseek-ai/DeepSeek-V3 inference/model.py and kernel.py (the official demo)
  [VLLM] vllm/model_executor/models/deepseek_mtp.py, [SGL] sglang deepseek_nextn.py (MTP)
  [RW]   DeepSeek-V3 README_WEIGHTS.md (FP8 block scales, MTP layer layout)
  [F]    docs/FACTS.md section 2 (the project's summary of the above)

NUMERICS CONTRACT (what the goldens compute; the C++ engine's default):
  * every weight widened exactly to float32 (bf16/f16 widening is exact); an FP8 weight is
    dequantized block by block: w[m, n] = float32(e4m3(q[m, n])) * weight_scale_inv[m // 128, n // 128]
    (one f32 multiply; partial blocks at the right/bottom edges use their block's scale) [RW, OFF
    kernel.weight_dequant];
  * activations are float32 everywhere; NO activation quantization (the official fp8_gemm path
    quantizes activations per 128 channels; the engine and this reference do not);
  * embedding not scaled; per layer x += mla(input_layernorm(x)); x += ffn(post_attention_layernorm(x));
    logits = lm_head(norm(x)) [HF DeepseekV3DecoderLayer / DeepseekV3Model];
  * RMSNorm y = w * x * rsqrt(mean(x^2) + eps) in f32 [HF DeepseekV3RMSNorm]; eps = rms_norm_eps for
    the layer norms, final norm, enorm/hnorm/shared_head.norm; q_a_layernorm and kv_a_layernorm use
    the RMSNorm default 1e-6 in [HF] and [OFF] (vLLM passes rms_norm_eps: all fixtures use 1e-6 so
    both readings agree);
  * MLA softmax in f32 with the causal mask; the log-softmax of the logits is taken in float64.

MTP (index num_hidden_layers, when num_nextn_predict_layers == 1), see mtp_logits():
  position j (0 <= j <= T-2) combines the main model's FINAL-NORMED hidden state h[j] (it has seen
  ids[:j+1]) with the embedding of ids[j+1]; its logits predict ids[j+2]. Hence
  mtp_logprobs[j] = log p_mtp(ids[j+2] | ids[:j+2]) for j = 0 .. T-3.
"""
import json
import math
import os

import torch

import safetensors_io

BLOCK = 128  # quantization_config.weight_block_size [128, 128] [RW]


# ---------------------------------------------------------------------------------------------
# FP8 e4m3fn codec (torch 1.13 has no float8 dtype). Format (OCP FP8 E4M3, "fn" = finite, no inf):
# sign | 4 exponent bits (bias 7) | 3 mantissa bits; exponent 0 = subnormal m/8 * 2^-6;
# S.1111.111 = NaN (0x7f, 0xff); largest finite 0x7e = 1.75 * 2^8 = 448.
# ---------------------------------------------------------------------------------------------
def _fp8_table():
    vals = []
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        e = (code >> 3) & 0xF
        m = code & 0x7
        if e == 0xF and m == 0x7:
            vals.append(float("nan"))
        elif e == 0:
            vals.append(sign * m / 8.0 * 2.0 ** -6)
        else:
            vals.append(sign * (1.0 + m / 8.0) * 2.0 ** (e - 7))
    return torch.tensor(vals, dtype=torch.float32)


FP8_TABLE = _fp8_table()  # [256] f32, exact


def fp8_e4m3_decode(q):
    """uint8 codes -> float32 values (exact)."""
    return FP8_TABLE[q.long()]


def fp8_e4m3_encode(x):
    """float32 -> uint8 e4m3fn codes: round to nearest, ties to even mantissa; |x| > 448 saturates
    to +-448 (no inf in this format); NaN -> 0x7f (sign kept)."""
    x = x.float()
    mag = x.abs().double().clamp(max=448.0)
    pos = FP8_TABLE[:0x7f].double()  # codes 0..0x7e: increasing non-negative finite values
    hi = torch.searchsorted(pos, mag.contiguous()).clamp(max=0x7e)  # first code with value >= mag
    lo = (hi - 1).clamp(min=0)
    d_hi = pos[hi] - mag
    d_lo = mag - pos[lo]
    # float64 differences are exact here (f32 input, values with <= 4 significant bits)
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0))
    code = torch.where(pick_hi, hi, lo)
    code = torch.where(mag == 0, torch.zeros_like(code), code)
    code = code | (torch.signbit(x).long() << 7)
    code = torch.where(torch.isnan(x), (torch.signbit(x).long() << 7) | 0x7f, code)
    return code.to(torch.uint8)


def fp8_dequant(q, scale_inv):
    """q uint8 [M, N] fp8 codes, scale_inv f32 [ceil(M/128), ceil(N/128)] -> f32 [M, N]."""
    M, N = q.shape
    sm, sn = (M + BLOCK - 1) // BLOCK, (N + BLOCK - 1) // BLOCK
    if tuple(scale_inv.shape) != (sm, sn):
        raise ValueError(f"scale_inv shape {tuple(scale_inv.shape)} != ({sm}, {sn}) for weight {M}x{N}")
    s = scale_inv.float().repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)[:M, :N]
    return fp8_e4m3_decode(q) * s


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------
class Config:
    """The DeepseekV3 config.json fields (HF names) the forward needs."""

    def __init__(self, d):
        self.raw = d
        if d["architectures"][0] != "DeepseekV3ForCausalLM":
            raise ValueError(f"unsupported architecture {d['architectures'][0]}")
        g = d.get
        self.hidden_size = d["hidden_size"]
        self.intermediate_size = d["intermediate_size"]
        self.moe_intermediate_size = d["moe_intermediate_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.q_lora_rank = g("q_lora_rank")  # None -> self_attn.q_proj
        self.kv_lora_rank = d["kv_lora_rank"]
        self.qk_nope_head_dim = d["qk_nope_head_dim"]
        self.qk_rope_head_dim = d["qk_rope_head_dim"]
        self.v_head_dim = d["v_head_dim"]
        self.n_routed_experts = d["n_routed_experts"]
        self.n_shared_experts = g("n_shared_experts")
        self.num_experts_per_tok = d["num_experts_per_tok"]
        self.n_group = d["n_group"]
        self.topk_group = d["topk_group"]
        self.routed_scaling_factor = d["routed_scaling_factor"]
        self.norm_topk_prob = d["norm_topk_prob"]
        self.first_k_dense_replace = d["first_k_dense_replace"]
        self.moe_layer_freq = g("moe_layer_freq", 1)
        self.vocab_size = d["vocab_size"]
        self.rms_norm_eps = d["rms_norm_eps"]
        self.rope_theta = d["rope_theta"]
        self.rope_scaling = g("rope_scaling")
        self.num_nextn_predict_layers = g("num_nextn_predict_layers", 0)
        if g("scoring_func", "sigmoid") != "sigmoid" or g("topk_method", "noaux_tc") != "noaux_tc":
            raise ValueError("only scoring_func sigmoid / topk_method noaux_tc (DeepSeek-V3) are supported")
        if g("tie_word_embeddings", False):
            raise ValueError("DeepSeek-V3 has a separate lm_head")
        if self.n_routed_experts % self.n_group or self.qk_rope_head_dim % 2:
            raise ValueError("n_routed_experts must divide into n_group groups; rope dim must be even")
        if self.num_nextn_predict_layers not in (0, 1):
            raise ValueError("num_nextn_predict_layers must be 0 or 1")
        q = d.get("quantization_config")
        if q is not None and (q.get("quant_method") != "fp8" or list(q.get("weight_block_size", [])) != [BLOCK, BLOCK]):
            raise ValueError(f"unsupported quantization_config {q}")

    def is_moe_layer(self, layer):
        # [HF] DeepseekV3DecoderLayer: MoE iff n_routed_experts and layer >= first_k_dense_replace
        # and layer % moe_layer_freq == 0; the MTP layer (index num_hidden_layers) is MoE in V3.
        return layer >= self.first_k_dense_replace and layer % self.moe_layer_freq == 0

    @staticmethod
    def load(folder):
        with open(os.path.join(folder, "config.json")) as f:
            return Config(json.load(f))


# ---------------------------------------------------------------------------------------------
# YaRN RoPE
# ---------------------------------------------------------------------------------------------
def yarn_get_mscale(scale, mscale):
    """[HF] yarn_get_mscale: 1 if scale <= 1 else 0.1 * mscale * ln(scale) + 1."""
    if scale <= 1:
        return 1.0
    return 0.1 * mscale * math.log(scale) + 1.0


def yarn_params(cfg):
    """(inv_freq f32 [rope/2], cos_sin_scale, softmax_scale) as Hugging Face applies YaRN.

    [HF] DeepseekV3YarnRotaryEmbedding._set_cos_sin_cache (docs/FACTS.md section 2):
      freq_extra_i = 1 / base^(2i/d);  freq_inter_i = 1 / (factor * base^(2i/d))
      corr(r) = d * ln(orig / (r * 2 pi)) / (2 ln base)
      low = max(floor(corr(beta_fast)), 0), high = min(ceil(corr(beta_slow)), d - 1); high += 0.001 if equal
      ramp_i = clamp((i - low) / (high - low), 0, 1), i = 0 .. d/2 - 1;  extra_mask = 1 - ramp
      inv_freq = freq_inter * (1 - extra_mask) + freq_extra * extra_mask
      cos/sin are multiplied by yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim).
    [HF] DeepseekV3Attention: softmax_scale = (nope + rope)^-0.5, times m^2 with
      m = yarn_get_mscale(factor, mscale_all_dim) when mscale_all_dim is non-zero.
    [OFF] precompute_freqs_cis / MLA.__init__ differ: they apply the frequency blend and the
      mscale^2 (with args.mscale) ONLY when max_seq_len > original_seq_len, and never scale cos/sin.
      For R1 (mscale = mscale_all_dim = 1) the two agree whenever the demo runs beyond 4096.
    """
    d = cfg.qk_rope_head_dim
    base = cfg.rope_theta
    idx = torch.arange(0, d, 2, dtype=torch.float32)
    freq_extra = 1.0 / (base ** (idx / d))
    softmax_scale = (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim) ** -0.5
    rs = cfg.rope_scaling
    if rs is None:
        return freq_extra, 1.0, softmax_scale
    kind = rs.get("type", rs.get("rope_type"))
    if kind != "yarn":
        raise ValueError(f"rope_scaling type {kind} not supported (DeepSeek-V3 uses yarn)")
    factor = rs["factor"]
    orig = rs["original_max_position_embeddings"]
    beta_fast = rs.get("beta_fast", 32)
    beta_slow = rs.get("beta_slow", 1)
    mscale = rs.get("mscale", 1)
    mscale_all_dim = rs.get("mscale_all_dim", 0)
    freq_inter = 1.0 / (factor * base ** (idx / d))

    def corr(rot):
        return d * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(corr(beta_fast)), 0)
    high = min(math.ceil(corr(beta_slow)), d - 1)
    if low == high:
        high += 0.001
    ramp = torch.clamp((torch.arange(d // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extra_mask = 1.0 - ramp
    inv_freq = freq_inter * (1 - extra_mask) + freq_extra * extra_mask
    cos_sin_scale = float(yarn_get_mscale(factor, mscale) / yarn_get_mscale(factor, mscale_all_dim))
    if mscale_all_dim:
        m = yarn_get_mscale(factor, mscale_all_dim)
        softmax_scale = softmax_scale * m * m
    return inv_freq, cos_sin_scale, softmax_scale


def rope_interleaved(x, cos, sin):
    """x [..., T, d] with pairs (x[2i], x[2i+1]) rotated by angle pos * inv_freq_i; cos/sin [T, d/2].
    [OFF] apply_rotary_emb (complex multiply of adjacent pairs); [HF] de-interleaves then applies
    rotate_half, which gives the same dot products (its output is in de-interleaved order)."""
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    y0 = x0 * cos - x1 * sin
    y1 = x1 * cos + x0 * sin
    return torch.stack([y0, y1], dim=-1).flatten(-2)


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------
def widen_weights(raw):
    """{HF name: stored tensor} -> {HF name: float32 tensor}. Each F8_E4M3 weight (uint8 here) is
    dequantized with its `<name>_scale_inv` (f32 [ceil(out/128), ceil(in/128)]), which is consumed.
    An FP8 weight without a scale, or a scale without its weight, is an error."""
    out = {}
    for name, t in raw.items():
        if name.endswith("_scale_inv"):
            base = name[: -len("_scale_inv")]
            if base not in raw or raw[base].dtype != torch.uint8:
                raise ValueError(f"{name} has no FP8 weight {base}")
            continue
        if t.dtype == torch.uint8:
            s = raw.get(name + "_scale_inv")
            if s is None:
                raise ValueError(f"FP8 weight {name} has no {name}_scale_inv")
            if t.dim() != 2:
                raise ValueError(f"FP8 weight {name} must be 2-D")
            out[name] = fp8_dequant(t, s)
        else:
            out[name] = t.float()
    return out


class MLACache:
    """Absorbed-form cache: per layer the normalized latent kv_a_layernorm(c) [max_len, kv_lora_rank]
    and the rotated shared key k_pe [max_len, qk_rope_head_dim] (FACTS: 576 values per token per
    layer for R1). The naive form recomputes per-head k_nope / v from the cached latent."""

    def __init__(self, cfg, max_len, layers, dtype=torch.float32):
        self.latent = {L: torch.zeros(max_len, cfg.kv_lora_rank, dtype=dtype) for L in layers}
        self.k_pe = {L: torch.zeros(max_len, cfg.qk_rope_head_dim, dtype=dtype) for L in layers}
        self.length = 0
        self.max_len = max_len


class DeepseekV3Model:
    def __init__(self, cfg, weights, mla_form="absorbed", dtype=torch.float32):
        """weights: {HF name: stored tensor} (F32/BF16/F16, or uint8 FP8 bytes + *_scale_inv).
        dtype float32 is the contract; float64 (same f32 weights and frequencies, wider arithmetic)
        only measures the f32 rounding noise in check_deepseek_v3.py."""
        if mla_form not in ("absorbed", "naive"):
            raise ValueError(mla_form)
        self.cfg = cfg
        self.mla_form = mla_form
        self.dtype = dtype
        self.w = {k: v.to(dtype) for k, v in widen_weights(weights).items()}
        self.inv_freq, self.cos_sin_scale, self.softmax_scale = yarn_params(cfg)
        self.inv_freq = self.inv_freq.to(dtype)
        self.gate_mask_value = float("-inf")  # [OFF] Gate / FACTS; the checker also tries 0.0 ([HF])
        self.route_log = None  # list to append routing records to, or None
        N = cfg.num_hidden_layers
        self.has_mtp = cfg.num_nextn_predict_layers == 1
        if self.has_mtp:
            p = f"model.layers.{N}."
            for n in ("enorm.weight", "hnorm.weight", "eh_proj.weight", "shared_head.norm.weight"):
                if p + n not in self.w:
                    raise ValueError(f"num_nextn_predict_layers is 1 but {p + n} is missing")
            # [RW] embed_tokens and shared_head.head of the MTP layer "share parameters" with the main
            # model; the HF checkpoint stores copies under model.layers.N. Use them when present.
            self.mtp_embed = self.w.get(p + "embed_tokens.weight", self.w["model.embed_tokens.weight"])
            self.mtp_head = self.w.get(p + "shared_head.head.weight", self.w["lm_head.weight"])

    @staticmethod
    def load(folder, mla_form="absorbed"):
        return DeepseekV3Model(Config.load(folder), safetensors_io.read_folder(folder), mla_form)

    # -- building blocks -------------------------------------------------------------------------
    def rms_norm(self, x, weight, eps=None):
        eps = self.cfg.rms_norm_eps if eps is None else eps
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def cos_sin(self, positions):
        freqs = positions.to(self.dtype)[:, None] * self.inv_freq[None, :]  # [T, rope/2] f32
        return freqs.cos() * self.cos_sin_scale, freqs.sin() * self.cos_sin_scale

    def mla(self, layer, x, cache, pos0):
        """x [T, hidden] (normed). Returns o_proj output [T, hidden]. [HF] DeepseekV3Attention,
        [OFF] MLA.forward; docs/FACTS.md "MLA"."""
        cfg, w = self.cfg, self.w
        p = f"model.layers.{layer}.self_attn."
        T = x.shape[0]
        nh, dn, dr, dv, r = (cfg.num_attention_heads, cfg.qk_nope_head_dim, cfg.qk_rope_head_dim,
                             cfg.v_head_dim, cfg.kv_lora_rank)
        if cfg.q_lora_rank is None:
            q = x @ w[p + "q_proj.weight"].t()  # [T, nh*(dn+dr)]
        else:
            qa = self.rms_norm(x @ w[p + "q_a_proj.weight"].t(), w[p + "q_a_layernorm.weight"], 1e-6)
            q = qa @ w[p + "q_b_proj.weight"].t()
        q = q.view(T, nh, dn + dr).transpose(0, 1)  # [nh, T, dn+dr]
        q_nope, q_pe = q[..., :dn], q[..., dn:]
        kv = x @ w[p + "kv_a_proj_with_mqa.weight"].t()  # [T, r + dr]
        latent = self.rms_norm(kv[:, :r], w[p + "kv_a_layernorm.weight"], 1e-6)  # [T, r]
        positions = torch.arange(pos0, pos0 + T)
        cos, sin = self.cos_sin(positions)
        q_pe = rope_interleaved(q_pe, cos, sin)  # [nh, T, dr]
        k_pe = rope_interleaved(kv[:, r:], cos, sin)  # [T, dr], one key shared by all heads

        if cache is not None:
            cache.latent[layer][pos0:pos0 + T] = latent
            cache.k_pe[layer][pos0:pos0 + T] = k_pe
            latent = cache.latent[layer][:pos0 + T]
            k_pe = cache.k_pe[layer][:pos0 + T]
        S = latent.shape[0]
        wkv_b = w[p + "kv_b_proj.weight"].view(nh, dn + dv, r)  # per head: rows k_nope (dn) | v (dv)
        w_k, w_v = wkv_b[:, :dn], wkv_b[:, dn:]  # [nh, dn, r], [nh, dv, r]
        if self.mla_form == "naive":
            k_nope = torch.einsum("sc,hdc->hsd", latent, w_k)  # [nh, S, dn]
            v = torch.einsum("sc,hdc->hsd", latent, w_v)  # [nh, S, dv]
            k = torch.cat([k_nope, k_pe[None].expand(nh, S, dr)], dim=-1)  # [nh, S, dn+dr]
            scores = torch.cat([q_nope, q_pe], -1) @ k.transpose(1, 2)  # [nh, T, S]
        else:
            q_lat = torch.einsum("htd,hdc->htc", q_nope, w_k)  # [nh, T, r]: W_k absorbed into q
            scores = q_lat @ latent.t() + q_pe @ k_pe.t()  # [nh, T, S]
        scores = scores * self.softmax_scale
        mask = torch.arange(S)[None, :] > positions[:, None]  # [T, S] causal
        probs = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        if self.mla_form == "naive":
            o = probs @ v  # [nh, T, dv]
        else:
            o = torch.einsum("htc,hdc->htd", probs @ latent, w_v)  # [nh, T, dv]: W_v after the sum
        o = o.transpose(0, 1).reshape(T, nh * dv)
        return o @ w[p + "o_proj.weight"].t()

    def mlp(self, prefix, h):
        """down(silu(gate(h)) * up(h)) [HF DeepseekV3MLP]."""
        w = self.w
        g = h @ w[prefix + "gate_proj.weight"].t()
        u = h @ w[prefix + "up_proj.weight"].t()
        return (torch.nn.functional.silu(g) * u) @ w[prefix + "down_proj.weight"].t()

    def route(self, layer, h):
        """noaux_tc routing [OFF Gate, HF MoEGate, FACTS "MoE gate"]. h [T, hidden].
        Returns (expert ids [T, k], weights [T, k])."""
        cfg, w = self.cfg, self.w
        p = f"model.layers.{layer}.mlp.gate."
        T = h.shape[0]
        E, G, k = cfg.n_routed_experts, cfg.n_group, cfg.num_experts_per_tok
        scores = torch.sigmoid(h @ w[p + "weight"].t())  # [T, E] f32
        biased = scores + w[p + "e_score_correction_bias"][None, :]  # selection only
        grouped = biased.view(T, G, E // G)
        group_score = grouped.topk(min(2, E // G), dim=-1).values.sum(-1)  # [T, G] top-2 sum
        keep = group_score.topk(cfg.topk_group, dim=-1).indices  # [T, topk_group]
        group_masked = torch.ones(T, G, dtype=torch.bool).scatter(1, keep, False)
        expert_masked = group_masked[:, :, None].expand(T, G, E // G).reshape(T, E)
        chosen = biased.masked_fill(expert_masked, self.gate_mask_value)
        idx = chosen.topk(k, dim=-1).indices  # [T, k]
        weights = scores.gather(1, idx)  # UNBIASED scores
        if cfg.norm_topk_prob:
            weights = weights / (weights.sum(-1, keepdim=True) + 1e-20)  # [HF] adds 1e-20, [OFF] not
        weights = weights * cfg.routed_scaling_factor
        if self.route_log is not None:
            gs = group_score.sort(dim=-1, descending=True).values
            cs = chosen.sort(dim=-1, descending=True).values
            self.route_log.append({
                "layer": layer, "experts": idx.sort(-1).values,
                "group_margin": gs[:, cfg.topk_group - 1] - gs[:, cfg.topk_group] if cfg.topk_group < G
                else torch.full((T,), float("inf")),
                "expert_margin": cs[:, k - 1] - cs[:, k],
            })
        return idx, weights

    def moe(self, layer, h):
        """sum_k w_k expert_k(h) + shared_experts(h) [HF DeepseekV3MoE, OFF MoE]; each selected
        expert runs once over its tokens."""
        cfg = self.cfg
        p = f"model.layers.{layer}.mlp."
        idx, weights = self.route(layer, h)
        y = torch.zeros_like(h)
        for e in range(cfg.n_routed_experts):
            tok, slot = torch.where(idx == e)
            if tok.numel():
                y[tok] += self.mlp(f"{p}experts.{e}.", h[tok]) * weights[tok, slot, None]
        if cfg.n_shared_experts:
            y = y + self.mlp(p + "shared_experts.", h)
        return y

    def decoder_layer(self, layer, x, cache, pos0):
        p = f"model.layers.{layer}."
        w = self.w
        x = x + self.mla(layer, self.rms_norm(x, w[p + "input_layernorm.weight"]), cache, pos0)
        h = self.rms_norm(x, w[p + "post_attention_layernorm.weight"])
        if self.cfg.is_moe_layer(layer):
            return x + self.moe(layer, h)
        return x + self.mlp(p + "mlp.", h)

    # -- forward ---------------------------------------------------------------------------------
    def new_cache(self, max_len):
        layers = list(range(self.cfg.num_hidden_layers))
        return MLACache(self.cfg, max_len, layers, self.dtype)

    def hidden_states(self, ids, cache=None):
        """Final-normed hidden states [T, hidden] (the MTP layer's h_prev)."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        pos0 = cache.length if cache is not None else 0
        if cache is not None and pos0 + ids.numel() > cache.max_len:
            raise ValueError("KV cache full")
        x = self.w["model.embed_tokens.weight"][ids]
        for layer in range(self.cfg.num_hidden_layers):
            x = self.decoder_layer(layer, x, cache, pos0)
        if cache is not None:
            cache.length = pos0 + ids.numel()
        return self.rms_norm(x, self.w["model.norm.weight"])

    def forward(self, ids, cache=None, last_only=False):
        h = self.hidden_states(ids, cache)
        if last_only:
            h = h[-1:]
        return h @ self.w["lm_head.weight"].t()

    def mtp_logits(self, ids, h_main=None):
        """MTP logits [T-1, vocab]: row j predicts ids[j+2] from h_main[j] (final-normed, has seen
        ids[:j+1]) and embed(ids[j+1]). [VLLM/SGL/FACTS]:
          h' = eh_proj(cat(enorm(e), hnorm(h_prev)))    (eh_proj [hidden, 2*hidden]; e first)
          h'' = full decoder layer N on h' (own MLA cache; RoPE positions 0 .. T-2, i.e. j)
          logits = shared_head.head(shared_head.norm(h''))
        No embedding is zeroed: vLLM zeroes the embedding at position 0 (inputs_embeds[positions == 0]
        = 0), a leftover of its older input layout; SGLang and the V3 report do not. RoPE positions
        only enter through differences, so any common offset gives the same result."""
        if not self.has_mtp:
            raise ValueError("this model has no MTP layer")
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.numel() < 2:
            return torch.zeros(0, self.cfg.vocab_size, dtype=self.dtype)
        if h_main is None:
            h_main = self.hidden_states(ids)
        return self.mtp_forward(ids[1:], h_main[:-1])

    def new_mtp_cache(self, max_len):
        return MLACache(self.cfg, max_len, [self.cfg.num_hidden_layers], self.dtype)

    def mtp_forward(self, next_ids, h_prev, cache=None):
        """The MTP layer on n positions: next_ids[i] is the token AFTER the one whose final-normed
        main hidden state is h_prev[i]; returns logits [n, vocab] for the token after next_ids[i].
        With a cache (new_mtp_cache) the positions continue at cache.length, as a speculative
        decoder drafting step by step would run it."""
        N = self.cfg.num_hidden_layers
        p = f"model.layers.{N}."
        w = self.w
        next_ids = torch.as_tensor(next_ids, dtype=torch.long)
        pos0 = cache.length if cache is not None else 0
        e = self.rms_norm(self.mtp_embed[next_ids], w[p + "enorm.weight"])  # [n, hidden]
        h = self.rms_norm(h_prev, w[p + "hnorm.weight"])  # [n, hidden]
        x = torch.cat([e, h], dim=-1) @ w[p + "eh_proj.weight"].t()
        x = self.decoder_layer(N, x, cache, pos0)
        if cache is not None:
            cache.length = pos0 + next_ids.numel()
        return self.rms_norm(x, w[p + "shared_head.norm.weight"]) @ self.mtp_head.t()


def score(model, ids):
    """logprobs[j] = log p(ids[j+1] | ids[:j+1]), j < len(ids)-1; float64 log-softmax of f32 logits."""
    logits = model.forward(ids).double()
    lp = torch.log_softmax(logits, dim=-1)
    tgt = torch.as_tensor(ids[1:], dtype=torch.long)
    return lp[:-1].gather(1, tgt[:, None])[:, 0].tolist()


def score_mtp(model, ids):
    """mtp_logprobs[j] = log p_mtp(ids[j+2] | ids[:j+2]), j = 0 .. len(ids)-3."""
    if len(ids) < 3:
        return []
    lp = torch.log_softmax(model.mtp_logits(ids).double(), dim=-1)  # [T-1, V]
    tgt = torch.as_tensor(ids[2:], dtype=torch.long)
    return lp[:-1].gather(1, tgt[:, None])[:, 0].tolist()
