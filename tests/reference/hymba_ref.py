#!/usr/bin/env python3
"""Independent float64 numpy reference of the Hymba forward pass, written from HYMBA.md.

    hymba_ref.py logits   --model DIR --tokens 1,5,9 [--all]   -> {"tokens":[...],"logits":[[...]]}
    hymba_ref.py generate --model DIR --tokens 1,5,9 --max-tokens N [--ignore-eos]
                                                                       -> {"tokens":[...]}

As a module: `load(dir) -> Model`, `forward(model, tokens) -> np.ndarray [T, V]` (one row per prompt
token, meta tokens excluded) and `greedy(model, tokens, n) -> list`. Slow and simple on purpose: the
whole sequence is recomputed for every generated token and the SSM scan is a Python loop.
"""
import argparse
import json
import math
import os
import sys

import numpy as np


# ---------------------------------------------------------------------------------------------
# Loading: config.json + safetensors (single file or index + shards), every tensor as float64.
def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    base, out = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        raw = data[base + lo:base + hi]
        dtype = info["dtype"]
        if dtype == "BF16":  # bf16 is the top half of an f32
            arr = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        elif dtype in ("F32", "F16", "F64"):
            np_dtype = {"F32": np.float32, "F16": np.float16, "F64": np.float64}[dtype]
            arr = np.frombuffer(raw, np_dtype)
        else:
            raise ValueError(f"{path}: {name}: unsupported dtype {dtype}")
        out[name] = arr.astype(np.float64).reshape(info["shape"])
    return out


# Switches the official HymbaConfig defaults when config.json omits them. The layout keys
# (num_memory_tokens, sliding_window, global_attn_idx, kv_reuse_group, ...) must be present.
CONFIG_DEFAULTS = {"mamba_conv_bias": True, "mamba_proj_bias": False,
                   "mamba_inner_layernorms": True, "mlp_hidden_act": "silu", "rms_norm_eps": 1e-6,
                   "rope": True, "rope_type": "ntk", "rope_theta": 10000.0, "mamba_dt_rank": "auto",
                   "tie_word_embeddings": True, "eos_token_id": 2}


class Model:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = c = dict(CONFIG_DEFAULTS, **json.load(f))
        index = os.path.join(model_dir, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        else:
            files = ["model.safetensors"]
        self.w = {}
        for name in files:
            self.w.update(read_safetensors(os.path.join(model_dir, name)))
        for key in ("num_memory_tokens", "sliding_window", "global_attn_idx", "kv_reuse_group"):
            if key not in c:
                raise ValueError(f"config.json: missing {key}")
        for key in ("attn_hidden_size", "kq_head_dim"):
            if c.get(key, -1) > 0:
                raise ValueError(f"{key} > 0 is not supported")
        if c.get("kq_norm", "none") != "none" or c.get("num_experts", 1) != 1 or \
                c.get("memory_tokens_interspersed_every", 0) > 0:
            raise ValueError("kq_norm, num_experts > 1, interspersed memory tokens: unsupported")
        # Derived sizes (HYMBA.md "Config keys that matter").
        self.H, self.L = c["hidden_size"], c["num_hidden_layers"]
        self.nh, self.kvh = c["num_attention_heads"], c["num_key_value_heads"]
        self.I = int(c["mamba_expand"] * self.H)
        self.dq, self.dv = self.H // self.nh, self.I // self.nh
        self.N, self.Kc = c["mamba_d_state"], c["mamba_d_conv"]
        r = c["mamba_dt_rank"]
        self.R = math.ceil(self.H / 16) if r == "auto" else int(r)
        self.M, self.W = c["num_memory_tokens"], c["sliding_window"]
        self.eps = c["rms_norm_eps"]
        self.global_layers = set(c["global_attn_idx"] or [])
        self.producer_of = {l: g[0] for g in c["kv_reuse_group"] or [] for l in g[1:]}
        self.tied = c["tie_word_embeddings"]
        self.check_tensors()

    def layer_tensors(self, i):
        m, consumer = f"model.layers.{i}.mamba.", i in self.producer_of
        kv = 0 if consumer else self.kvh * (self.dq + self.dv)
        P = self.H + kv + 2 * self.I
        H, I, N, R = self.H, self.I, self.N, self.R
        t = {f"model.layers.{i}.input_layernorm.weight": (H,), m + "in_proj.weight": (P, H),
             m + "conv1d.weight": (I, 1, self.Kc), m + "x_proj.0.weight": (R + 2 * N, I),
             m + "dt_proj.0.weight": (I, R), m + "dt_proj.0.bias": (I,), m + "A_log.0": (I, N),
             m + "D.0": (I,), m + "out_proj.weight": (H, I), m + "pre_avg_layernorm1.weight": (I,),
             m + "pre_avg_layernorm2.weight": (I,),
             f"model.layers.{i}.pre_moe_layernorm.weight": (H,)}
        if self.cfg["mamba_proj_bias"]:
            t.update({m + "in_proj.bias": (P,), m + "out_proj.bias": (self.H,)})
        if self.cfg["mamba_conv_bias"]:
            t[m + "conv1d.bias"] = (self.I,)
        if self.cfg["mamba_inner_layernorms"]:
            t.update({m + "dt_layernorm.weight": (self.R,), m + "B_layernorm.weight": (self.N,),
                      m + "C_layernorm.weight": (self.N,)})
        e, F = f"model.layers.{i}.moe.experts.0.", self.cfg["intermediate_size"]
        t.update({e + "up_proj.weight": (F, self.H), e + "down_proj.weight": (self.H, F)})
        if self.cfg["mlp_hidden_act"] == "silu":
            t[e + "gate_proj.weight"] = (F, self.H)
        return t

    def check_tensors(self):
        """HYMBA.md "Tensors": every tensor present with its shape, nothing extra."""
        V = self.cfg["vocab_size"]
        want = {"model.embed_tokens.weight": (V, self.H), "model.final_layernorm.weight": (self.H,)}
        if self.M > 0:
            want["model.memory_tokens"] = (self.M, self.H)
        for i in range(self.L):
            want.update(self.layer_tensors(i))
        if not self.tied or "lm_head.weight" in self.w:
            want["lm_head.weight"] = (V, self.H)
        for name, shape in want.items():
            if name not in self.w or tuple(self.w[name].shape) != shape:
                got = self.w[name].shape if name in self.w else "missing"
                raise ValueError(f"tensor {name}: expected {shape}, got {got}")
        extra = sorted(set(self.w) - set(want))
        if extra:
            raise ValueError(f"unexpected tensors: {extra}")
        if self.tied and "lm_head.weight" in self.w and \
                not np.array_equal(self.w["lm_head.weight"], self.w["model.embed_tokens.weight"]):
            raise ValueError("tied checkpoint whose lm_head.weight differs from the embedding")


def load(model_dir):
    return Model(model_dir)


# ---------------------------------------------------------------------------------------------
# Building blocks (HYMBA.md "Forward pass").
def rms_norm(x, w, eps):
    return w * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def silu(x):
    return x / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def rope_base(cfg, dq):
    if cfg["rope_type"] == "ntk":
        factor = 2.0 * cfg["max_position_embeddings"] / cfg["orig_max_position_embeddings"] - 1.0
        return cfg["rope_theta"] * factor ** (dq / (dq - 2))
    return cfg["rope_theta"]


def apply_rope(x, pos, base):
    """x [T, heads, d]: rotate-half RoPE, pairs (j, j + d/2), angles in float64."""
    d = x.shape[-1]
    inv_freq = 1.0 / base ** (np.arange(0, d, 2, dtype=np.float64) / d)  # [d/2]
    ang = pos[:, None].astype(np.float64) * inv_freq[None, :]  # [T, d/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x1, x2 = x[..., :d // 2], x[..., d // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def attention_mask(T, M, W, is_global):
    """[T, T] bool, visible[q, k]: full layers causal; SWA k <= q and (q - k <= W or k < M)."""
    q, k = np.arange(T)[:, None], np.arange(T)[None, :]
    causal = k <= q
    if is_global or W is None:
        return causal
    return causal & ((q - k <= W) | (k < M))


def attention(q, k, v, mask):
    """q [T, nh, dq], k [T, kvh, dq], v [T, kvh, dv] -> [T, nh*dv], GQA: head j reads j // group."""
    T, nh, dq = q.shape
    group = nh // k.shape[1]
    out = np.empty((T, nh, v.shape[2]))
    for j in range(nh):
        s = q[:, j, :] @ k[:, j // group, :].T / math.sqrt(dq)  # [T, T]
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        out[:, j, :] = p @ v[:, j // group, :]
    return out.reshape(T, -1)


def ssm(model, i, x, z):
    """HYMBA.md step 3: conv + SiLU, x_proj, inner norms, dt, selective scan, gate. x, z [T, I]."""
    w, m, c = model.w, f"model.layers.{i}.mamba.", model.cfg
    T, I, Kc, N, R = x.shape[0], model.I, model.Kc, model.N, model.R
    conv_w = w[m + "conv1d.weight"][:, 0, :]  # [I, Kc]; tap Kc-1 multiplies the current token
    xpad = np.concatenate([np.zeros((Kc - 1, I)), x])
    xc = sum(conv_w[:, j] * xpad[j:j + T] for j in range(Kc))
    if c["mamba_conv_bias"]:
        xc = xc + w[m + "conv1d.bias"]
    xc = silu(xc)
    p = xc @ w[m + "x_proj.0.weight"].T  # [T, R + 2N]: dt | B | C
    dt_r, B, C = p[:, :R], p[:, R:R + N], p[:, R + N:]
    if c["mamba_inner_layernorms"]:
        dt_r = rms_norm(dt_r, w[m + "dt_layernorm.weight"], model.eps)
        B = rms_norm(B, w[m + "B_layernorm.weight"], model.eps)
        C = rms_norm(C, w[m + "C_layernorm.weight"], model.eps)
    delta = softplus(dt_r @ w[m + "dt_proj.0.weight"].T + w[m + "dt_proj.0.bias"])  # [T, I]
    A = -np.exp(w[m + "A_log.0"])  # [I, N]
    D = w[m + "D.0"]
    s = np.zeros((I, N))
    y = np.empty((T, I))
    for t in range(T):
        s = np.exp(delta[t][:, None] * A) * s + (delta[t] * xc[t])[:, None] * B[t][None, :]
        y[t] = s @ C[t] + D * xc[t]
    return y * silu(z)


# ---------------------------------------------------------------------------------------------
def forward(model, tokens):
    """Logits [len(tokens), V] for the prompt positions (float64)."""
    w, c, H, I = model.w, model.cfg, model.H, model.I
    nh, kvh, dq, dv, M = model.nh, model.kvh, model.dq, model.dv, model.M
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.size == 0 or tokens.min() < 0 or tokens.max() >= c["vocab_size"]:
        raise ValueError("token ids must be in [0, vocab_size)")
    # Input: [M meta tokens] + prompt, absolute positions 0 .. M+T-1.
    parts = [w["model.memory_tokens"]] if M > 0 else []
    h = np.concatenate(parts + [w["model.embed_tokens.weight"][tokens]])
    T = h.shape[0]
    pos = np.arange(T)
    base = rope_base(c, dq)
    kv = {}  # producer layer -> post-RoPE (K [T, kvh, dq], V [T, kvh, dv])
    for i in range(model.L):
        pre = f"model.layers.{i}."
        m = pre + "mamba."
        # Step 1: norm + in_proj, rows q | k | v (producers) | x | z.
        u = rms_norm(h, w[pre + "input_layernorm.weight"], model.eps)
        p = u @ w[m + "in_proj.weight"].T
        if c["mamba_proj_bias"]:
            p = p + w[m + "in_proj.bias"]
        q, rest = p[:, :H].reshape(T, nh, dq), p[:, H:]
        # Step 2: attention path.
        if c["rope"]:
            q = apply_rope(q, pos, base)
        if i in model.producer_of:
            k, v = kv[model.producer_of[i]]
        else:
            k = rest[:, :kvh * dq].reshape(T, kvh, dq)
            v = rest[:, kvh * dq:kvh * (dq + dv)].reshape(T, kvh, dv)
            rest = rest[:, kvh * (dq + dv):]
            if c["rope"]:
                k = apply_rope(k, pos, base)
            kv[i] = (k, v)
        x, z = rest[:, :I], rest[:, I:]
        a = attention(q, k, v, attention_mask(T, M, model.W, i in model.global_layers))
        # Step 3: SSM path.
        y = ssm(model, i, x, z)
        # Step 4: fusion.
        fused = (rms_norm(a, w[m + "pre_avg_layernorm1.weight"], model.eps) +
                 rms_norm(y, w[m + "pre_avg_layernorm2.weight"], model.eps)) / 2
        out = fused @ w[m + "out_proj.weight"].T
        if c["mamba_proj_bias"]:
            out = out + w[m + "out_proj.bias"]
        h = h + out
        # Step 5: FFN.
        e = pre + "moe.experts.0."
        v_ = rms_norm(h, w[pre + "pre_moe_layernorm.weight"], model.eps)
        if c["mlp_hidden_act"] == "silu":
            act = silu(v_ @ w[e + "gate_proj.weight"].T) * (v_ @ w[e + "up_proj.weight"].T)
        else:  # relu2: relu(up(v))^2, ungated
            act = np.maximum(v_ @ w[e + "up_proj.weight"].T, 0.0) ** 2
        h = h + act @ w[e + "down_proj.weight"].T
    hn = rms_norm(h[M:], w["model.final_layernorm.weight"], model.eps)
    head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
    return hn @ head.T


def greedy(model, tokens, n, stop_at_eos=True):
    """Greedy argmax generation; like the CLI, an EOS is emitted and then generation stops."""
    seq, out = list(tokens), []
    eos = model.cfg["eos_token_id"]
    for _ in range(n):
        nxt = int(np.argmax(forward(model, seq)[-1]))
        out.append(nxt)
        seq.append(nxt)
        if stop_at_eos and nxt == eos:
            break
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="float64 numpy Hymba reference")
    ap.add_argument("command", choices=["logits", "generate"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--ignore-eos", action="store_true")
    args = ap.parse_args(argv)
    model = load(args.model)
    tokens = [int(t) for t in args.tokens.split(",") if t.strip()]
    if args.command == "logits":
        logits = forward(model, tokens)
        rows = logits if args.all else logits[-1:]
        print(json.dumps({"tokens": tokens, "logits": [[float(v) for v in r] for r in rows]}))
    else:
        print(json.dumps({"tokens": greedy(model, tokens, args.max_tokens, not args.ignore_eos)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
