#!/usr/bin/python3
"""Independent PyTorch eager reference of Qwen2ForCausalLM and LlamaForCausalLM.

Written from the formulas (not the code) of Hugging Face transformers' modeling_qwen2.py,
modeling_llama.py and modeling_rope_utils.py; each formula below names its source.

Forward (HF Qwen2Model/LlamaModel.forward and *DecoderLayer.forward):
  x = embed_tokens[ids]                      (no scaling)
  per layer:  x += o_proj(attn(input_layernorm(x)))
              h = post_attention_layernorm(x); x += down(silu(gate(h)) * up(h))
  logits = lm_head(norm(x))                  (lm_head = embed_tokens when tie_word_embeddings)

Three modes:
  "reference"  the exact NUMERICS CONTRACT of the C++ engine (its default), used for the goldens:
               everything in float32; weights widened from their stored dtype exactly; linear
               inputs are not rounded. Norms, RoPE, softmax, residuals: f32.
  "bf16dot"    the engine's fast bf16 mode (bf16 dot-product instructions): as "reference", but
               for a BF16 checkpoint the INPUT of every linear layer (q/k/v/o, gate/up/down,
               lm_head) is rounded to bf16 (round-to-nearest-even) and widened back first:
                 y = x.bfloat16().float() @ W.float().T (+ bias.float())
  "native"     how a PyTorch user runs the checkpoint: compute in the stored dtype (bf16 matmuls
               for bf16), norms and softmax in f32 then cast back as HF does. Used by the bench.

Both support a KV cache (forward(ids, cache) appends at cache.length).
"""
import json
import math
import os

import torch

import safetensors_io


class Config:
    """The config.json fields the dense forward needs (HF names)."""

    def __init__(self, d):
        self.raw = d
        self.architecture = d["architectures"][0]
        if self.architecture not in ("Qwen2ForCausalLM", "LlamaForCausalLM"):
            raise ValueError(f"unsupported architecture {self.architecture}")
        self.hidden_size = d["hidden_size"]
        self.intermediate_size = d["intermediate_size"]
        self.num_hidden_layers = d["num_hidden_layers"]
        self.num_attention_heads = d["num_attention_heads"]
        self.num_key_value_heads = d.get("num_key_value_heads") or self.num_attention_heads
        # HF LlamaAttention: head_dim = getattr(config, "head_dim", hidden_size // num_attention_heads)
        self.head_dim = d.get("head_dim") or self.hidden_size // self.num_attention_heads
        self.vocab_size = d["vocab_size"]
        self.rms_norm_eps = d["rms_norm_eps"]
        self.rope_theta = d.get("rope_theta", 10000.0)
        self.rope_scaling = d.get("rope_scaling")
        self.tie_word_embeddings = d.get("tie_word_embeddings", False)
        # Qwen2Attention: q/k/v have bias=True always; LlamaAttention: bias=config.attention_bias.
        if self.architecture == "Qwen2ForCausalLM":
            self.qkv_bias = True
        else:
            self.qkv_bias = bool(d.get("attention_bias", False))
        # LlamaMLP: gate/up/down are nn.Linear(bias=config.mlp_bias); Qwen2MLP has no biases.
        self.mlp_bias = self.architecture == "LlamaForCausalLM" and bool(d.get("mlp_bias", False))
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")

    @staticmethod
    def load(folder):
        with open(os.path.join(folder, "config.json")) as f:
            return Config(json.load(f))


def rope_inv_freq(cfg):
    """Inverse frequencies, float32 [head_dim/2].

    Default (modeling_rope_utils._compute_default_rope_parameters): inv_freq_i = 1 / theta^(2i/d),
    computed as HF does in float32: theta ** (arange(0, d, 2).float() / d).
    The rotary dimension is the full head_dim (current HF takes config.head_dim when present).

    rope_type "llama3" (modeling_rope_utils._compute_llama3_parameters, Llama 3.1):
      low_wl = orig / low_freq_factor, high_wl = orig / high_freq_factor, wavelen = 2*pi / inv_freq
      wavelen < high_wl           -> inv_freq unchanged
      wavelen > low_wl            -> inv_freq / factor
      otherwise (medium)          -> (1 - s) * inv_freq / factor + s * inv_freq,
                                     s = (orig / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    The attention scaling factor of llama3 is 1.0 (cos/sin are not scaled).
    """
    d = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    rs = cfg.rope_scaling
    if rs is None:
        return inv_freq
    rope_type = rs.get("rope_type", rs.get("type", "default"))
    if rope_type == "default":
        return inv_freq
    if rope_type != "llama3":
        raise ValueError(f"rope_type {rope_type} not supported by this reference")
    factor = rs["factor"]
    low_ff = rs["low_freq_factor"]
    high_ff = rs["high_freq_factor"]
    orig = rs["original_max_position_embeddings"]
    low_wl = orig / low_ff
    high_wl = orig / high_ff
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wl, inv_freq / factor, inv_freq)
    s = (orig / wavelen - low_ff) / (high_ff - low_ff)
    smoothed = (1 - s) * scaled / factor + s * scaled
    medium = (wavelen >= high_wl) & (wavelen <= low_wl)
    return torch.where(medium, smoothed, scaled)


def rope_cos_sin(cfg, positions):
    """cos, sin float32 [T, head_dim]. HF *RotaryEmbedding.forward: freqs = pos * inv_freq (f32),
    emb = cat(freqs, freqs), cos = emb.cos(), sin = emb.sin()."""
    inv_freq = rope_inv_freq(cfg)
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    """HF rotate_half: [x1, x2] -> [-x2, x1] on the last dim (half-split, not interleaved)."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def apply_rope(x, cos, sin):
    """x [heads, T, head_dim]; HF apply_rotary_pos_emb: x * cos + rotate_half(x) * sin."""
    return x * cos[None] + rotate_half(x) * sin[None]


class KVCache:
    """Per layer keys/values [kv_heads, max_len, head_dim]; keys are stored after RoPE."""

    def __init__(self, cfg, max_len, dtype):
        shape = (cfg.num_key_value_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, dtype=dtype) for _ in range(cfg.num_hidden_layers)]
        self.v = [torch.zeros(shape, dtype=dtype) for _ in range(cfg.num_hidden_layers)]
        self.length = 0
        self.max_len = max_len


class DenseModel:
    def __init__(self, cfg, weights, mode="reference"):
        """weights: {HF tensor name: tensor in its stored dtype}."""
        if mode not in ("reference", "bf16dot", "native"):
            raise ValueError(mode)
        self.cfg = cfg
        self.mode = mode
        dtypes = {t.dtype for t in weights.values()}
        if len(dtypes) != 1:
            raise ValueError(f"mixed checkpoint dtypes {dtypes}")
        self.stored_dtype = dtypes.pop()
        if mode in ("reference", "bf16dot"):
            self.compute_dtype = torch.float32
            self.round_linear_inputs = mode == "bf16dot" and self.stored_dtype == torch.bfloat16
            w = {k: v.float() for k, v in weights.items()}  # widening is exact for bf16/f16
        elif self.stored_dtype == torch.float16:
            # torch 1.13 has no f16 matmul on CPU ("addmm_impl_cpu_ not implemented for 'Half'"),
            # so a PyTorch user on CPU converts an f16 checkpoint to f32.
            self.compute_dtype = torch.float32
            self.round_linear_inputs = False
            w = {k: v.float() for k, v in weights.items()}
        else:
            self.compute_dtype = self.stored_dtype
            self.round_linear_inputs = False
            w = dict(weights)
        self.w = w
        self.embed = w["model.embed_tokens.weight"]  # [vocab, hidden]
        if cfg.tie_word_embeddings:
            if "lm_head.weight" in w:
                raise ValueError("tie_word_embeddings is true but lm_head.weight is present")
            self.lm_head = self.embed
        else:
            self.lm_head = w["lm_head.weight"]
        self.inv_freq = rope_inv_freq(cfg)

    @staticmethod
    def load(folder, mode="reference"):
        cfg = Config.load(folder)
        return DenseModel(cfg, safetensors_io.read_folder(folder), mode)

    # -- building blocks -------------------------------------------------------------------
    def linear(self, x, weight, bias=None):
        """y = x @ W^T (+ b); W is [out, in]. In bf16dot mode for a bf16 checkpoint the input
        is rounded to bf16 first."""
        if self.round_linear_inputs:
            x = x.to(torch.bfloat16).float()
        y = x @ weight.t()
        if bias is not None:
            y = y + bias
        return y

    def rms_norm(self, x, weight):
        """HF Qwen2RMSNorm/LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) in f32, times weight.
        Native mode casts back to the input dtype before the weight multiply, as HF does."""
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.cfg.rms_norm_eps)
        return weight * x32.to(x.dtype)

    def attention(self, layer, x, cache, pos0):
        """x [T, hidden] (already normed). Returns [T, hidden] after o_proj."""
        cfg = self.cfg
        p = f"model.layers.{layer}.self_attn."
        w = self.w
        T = x.shape[0]
        nh, nkv, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        bias = (lambda n: w[p + n + ".bias"]) if cfg.qkv_bias else (lambda n: None)
        q = self.linear(x, w[p + "q_proj.weight"], bias("q_proj"))  # [T, nh*hd]
        k = self.linear(x, w[p + "k_proj.weight"], bias("k_proj"))  # [T, nkv*hd]
        v = self.linear(x, w[p + "v_proj.weight"], bias("v_proj"))  # [T, nkv*hd]
        q = q.view(T, nh, hd).transpose(0, 1)  # [nh, T, hd]
        k = k.view(T, nkv, hd).transpose(0, 1)  # [nkv, T, hd]
        v = v.view(T, nkv, hd).transpose(0, 1)  # [nkv, T, hd]

        positions = torch.arange(pos0, pos0 + T)
        freqs = positions.float()[:, None] * self.inv_freq[None, :]  # [T, hd/2] f32
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().to(q.dtype), emb.sin().to(q.dtype)  # HF casts cos/sin to x.dtype
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)

        if cache is not None:
            cache.k[layer][:, pos0:pos0 + T] = k
            cache.v[layer][:, pos0:pos0 + T] = v
            k = cache.k[layer][:, :pos0 + T]
            v = cache.v[layer][:, :pos0 + T]
        S = k.shape[1]
        # GQA: kv head j serves query heads j*g .. j*g+g-1 (HF repeat_kv = repeat_interleave).
        g = nh // nkv
        if g > 1:
            k = k.repeat_interleave(g, dim=0)  # [nh, S, hd]
            v = v.repeat_interleave(g, dim=0)

        # scores = q k^T / sqrt(head_dim); causal mask; softmax in float32 (HF eager_attention_forward).
        scores = (q @ k.transpose(1, 2)) * (1.0 / math.sqrt(hd))  # [nh, T, S]
        q_pos = positions[:, None]
        k_pos = torch.arange(S)[None, :]
        scores = scores.float().masked_fill(k_pos > q_pos, float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(v.dtype)
        out = probs @ v  # [nh, T, hd]
        out = out.transpose(0, 1).reshape(T, nh * hd)
        return self.linear(out, w[p + "o_proj.weight"])

    def mlp(self, layer, h):
        p = f"model.layers.{layer}.mlp."
        w = self.w
        bias = (lambda n: w[p + n + ".bias"]) if self.cfg.mlp_bias else (lambda n: None)
        gate = self.linear(h, w[p + "gate_proj.weight"], bias("gate_proj"))  # [T, inter]
        up = self.linear(h, w[p + "up_proj.weight"], bias("up_proj"))  # [T, inter]
        return self.linear(torch.nn.functional.silu(gate) * up, w[p + "down_proj.weight"],
                           bias("down_proj"))

    # -- forward ----------------------------------------------------------------------------
    def hidden_states(self, ids, cache=None):
        """ids: list/LongTensor [T]. Returns the final-normed hidden states [T, hidden]."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        pos0 = cache.length if cache is not None else 0
        if cache is not None and pos0 + ids.numel() > cache.max_len:
            raise ValueError("KV cache full")
        x = self.embed[ids].to(self.compute_dtype)  # [T, hidden]
        for layer in range(self.cfg.num_hidden_layers):
            p = f"model.layers.{layer}."
            x = x + self.attention(layer, self.rms_norm(x, self.w[p + "input_layernorm.weight"]), cache, pos0)
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            x = x + self.mlp(layer, h)
        if cache is not None:
            cache.length = pos0 + ids.numel()
        return self.rms_norm(x, self.w["model.norm.weight"])

    def forward(self, ids, cache=None, last_only=False):
        """Logits [T, vocab] (or [1, vocab] with last_only), in the compute dtype."""
        h = self.hidden_states(ids, cache)
        if last_only:
            h = h[-1:]
        return self.linear(h, self.lm_head)


def score(model, ids):
    """logprobs[j] = log p(ids[j+1] | ids[:j+1]) for j < len(ids)-1, as float64.
    Logits come from the f32 forward; the log-softmax is taken in float64 on those logits."""
    logits = model.forward(ids).double()
    lp = torch.log_softmax(logits, dim=-1)
    tgt = torch.as_tensor(ids[1:], dtype=torch.long)
    return lp[:-1].gather(1, tgt[:, None])[:, 0].tolist()


def greedy(model, prompt, n):
    """Greedy continuation by full recompute (no KV cache). Returns (tokens, logprobs, margins)
    where margin = top1 logit - top2 logit at that step (tests should not insist on a token whose
    margin is within their tolerance)."""
    ids = list(prompt)
    toks, lps, margins = [], [], []
    for _ in range(n):
        logits = model.forward(ids)[-1].double()
        top = torch.topk(logits, 2)
        t = int(top.indices[0])
        toks.append(t)
        lps.append(float(torch.log_softmax(logits, -1)[t]))
        margins.append(float(top.values[0] - top.values[1]))
        ids.append(t)
    return toks, lps, margins
