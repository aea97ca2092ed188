#!/usr/bin/env python3
"""Writes a random Hymba checkpoint in the Hugging Face layout (see HYMBA.md, the model contract shared with the engine).

    make_checkpoint.py --preset tiny-a --out DIR [--seed N] [--dtype bf16|f32] [--shards N]
                       [--tied | --untied] [--write-lm-head] [--config-json '{"sliding_window": 4}']

The directory gets config.json, model.safetensors (or model-0000N-of-0000M.safetensors shards plus
model.safetensors.index.json), tokenizer.model (a small SentencePiece BPE model trained from
tools/data/tokenizer_corpus.txt), tokenizer_config.json and special_tokens_map.json. The output is a
pure function of (preset, overrides, seed). config.json is written last: its presence marks a
complete checkpoint.

Weights are random but scaled so activations stay healthy: projections ~ N(0, 1/fan_in), norms near
1, A_log = log(U[1, 16]), D near 1, dt_proj bias = softplus^-1 of dt in [1e-3, 1e-1] (log-uniform),
embeddings and memory tokens ~ N(0, 1), and an output scale that gives logits a std of a few units.
Every tensor has its own random stream keyed by (seed, tensor name), so adding or dropping one
tensor leaves the others unchanged.
"""
import argparse
import io
import json
import math
import os
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "data", "tokenizer_corpus.txt")
CHAT_TEMPLATE = os.path.join(REPO, "tests", "testing", "data", "hymba_instruct_chat_template.jinja")
TOKENIZER_VOCAB = 512  # SentencePiece pieces; [PAD] is added after them
LOGIT_STD = 3.0  # target std of the output logits
QK_GAIN = 1.5  # sharpens attention a little beyond unit-variance scores
# Residual updates (out_proj, down_proj) outweigh the N(0, 1) token embedding, so that a tied
# lm_head does not simply echo the current token back and greedy decoding does not lock onto it.
RESIDUAL_GAIN = 3.0
CHUNK_ELEMS = 1 << 22  # rows are generated in chunks of about this many values

# The official Hymba-1.5B config; presets override parts of it.
HYMBA_1_5B = {
    "architectures": ["HymbaForCausalLM"], "model_type": "hymba", "torch_dtype": "bfloat16",
    "transformers_version": "4.44.0", "vocab_size": 32001, "hidden_size": 1600,
    "intermediate_size": 5504, "num_hidden_layers": 32, "num_attention_heads": 25,
    "num_key_value_heads": 5, "attn_hidden_size": -1, "kq_head_dim": -1, "v_head_dim": 128,
    "kq_norm": "none", "hidden_act": "silu", "mlp_hidden_act": "silu", "rms_norm_eps": 1e-6,
    "initializer_range": 0.02, "mamba_expand": 2, "mamba_d_state": 16, "mamba_d_conv": 4,
    "mamba_dt_rank": 100, "mamba_conv_bias": True, "mamba_proj_bias": False,
    "mamba_inner_layernorms": True, "use_mamba_kernels": True, "num_mamba": 1,
    "num_memory_tokens": 128, "memory_tokens_interspersed_every": 0, "sliding_window": 1024,
    "global_attn_idx": [0, 15, 31],
    "kv_reuse_group": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [16, 17, 18],
                       [19, 20], [21, 22], [23, 24], [25, 26], [27, 28], [29, 30]],
    "kv_reuse_every_i_layer": -1, "kv_weight_reuse": False, "rope": True, "rope_type": "ntk",
    "rope_theta": 10000.0, "max_position_embeddings": 8192, "orig_max_position_embeddings": 2048,
    "seq_length": 8192, "tie_word_embeddings": True, "num_experts": 1, "num_experts_per_tok": 1,
    "router_aux_loss_coef": 0.001, "output_router_logits": False, "attention_dropout": 0.0,
    "calc_logits_for_entire_prompt": False, "use_cache": False, "attn_implementation": "flex",
    "attn_implementation_new": "flex", "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
}


def _preset(dtype, shards, tied, **cfg):
    return {"dtype": dtype, "shards": shards, "tied": tied, "config": cfg}


PRESETS = {
    "tiny-a": _preset(
        "f32", 1, True, hidden_size=64, num_attention_heads=4, num_key_value_heads=2,
        num_hidden_layers=4, mamba_expand=2, mamba_d_state=8, mamba_d_conv=4, mamba_dt_rank="auto",
        num_memory_tokens=8, sliding_window=8, global_attn_idx=[0, 3], kv_reuse_group=[[1, 2]],
        intermediate_size=96, rope_type="ntk", max_position_embeddings=256,
        orig_max_position_embeddings=128),
    "tiny-b": _preset(
        "bf16", 3, False, hidden_size=48, num_attention_heads=6, num_key_value_heads=2,
        num_hidden_layers=6, mamba_expand=1, mamba_d_state=4, mamba_d_conv=3, mamba_dt_rank=5,
        num_memory_tokens=4, sliding_window=16, global_attn_idx=[0, 5],
        kv_reuse_group=[[1, 2], [3, 4]], intermediate_size=64, rope_type="default",
        max_position_embeddings=512, orig_max_position_embeddings=256),
    "tiny-c": _preset(
        "f32", 1, False, hidden_size=32, num_attention_heads=2, num_key_value_heads=2,
        num_hidden_layers=5, mamba_expand=2, mamba_d_state=4, mamba_d_conv=4, mamba_dt_rank="auto",
        num_memory_tokens=3, sliding_window=6, global_attn_idx=[2],
        kv_reuse_group=[[0, 1], [3, 4]], intermediate_size=48, mlp_hidden_act="relu2",
        mamba_proj_bias=True, mamba_conv_bias=False, mamba_inner_layernorms=False,
        rope_type="ntk", max_position_embeddings=256, orig_max_position_embeddings=128),
    "tiny-d": _preset(
        "bf16", 2, True, hidden_size=64, num_attention_heads=4, num_key_value_heads=1,
        num_hidden_layers=7, mamba_expand=2, mamba_d_state=8, mamba_d_conv=4, mamba_dt_rank="auto",
        num_memory_tokens=8, sliding_window=5, global_attn_idx=[0, 5, 6],
        kv_reuse_group=[[1, 2, 3], [5, 6]], intermediate_size=80, rope_type="ntk",
        max_position_embeddings=256, orig_max_position_embeddings=128),
    "tiny-e": dict(_preset(
        "f32", 2, True, hidden_size=128, num_attention_heads=8, num_key_value_heads=4,
        num_hidden_layers=8, mamba_expand=2, mamba_d_state=16, mamba_d_conv=4,
        mamba_dt_rank="auto", num_memory_tokens=16, sliding_window=32, global_attn_idx=[0, 4, 7],
        kv_reuse_group=[[1, 2], [5, 6]], intermediate_size=256, rope_type="ntk",
        max_position_embeddings=1024, orig_max_position_embeddings=512), write_lm_head=True),
    "demo": _preset(
        "bf16", 1, True, hidden_size=256, num_attention_heads=8, num_key_value_heads=2,
        num_hidden_layers=6, mamba_expand=2, mamba_d_state=16, mamba_d_conv=4,
        mamba_dt_rank="auto", num_memory_tokens=32, sliding_window=64, global_attn_idx=[0, 5],
        kv_reuse_group=[[1, 2], [3, 4]], intermediate_size=512, rope_type="ntk",
        max_position_embeddings=4096, orig_max_position_embeddings=2048),
    # The real shapes; the vocabulary stays 32001 although the tokenizer is the small one.
    "hymba-1.5b": _preset("bf16", 1, True, vocab_size=32001),
}


# ---------------------------------------------------------------------------------------------
# Config
def build_config(preset, overrides, tied, tokenizer_vocab):
    cfg = dict(HYMBA_1_5B, vocab_size=tokenizer_vocab + 1)  # the SentencePiece pieces + [PAD]
    cfg.update(preset["config"])
    cfg["tie_word_embeddings"] = tied
    cfg["seq_length"] = cfg["max_position_embeddings"]
    cfg.update(overrides)
    d = dims(cfg)
    # Informational keys the official code derives itself; keep them consistent unless overridden.
    derived = {"v_head_dim": d["dv"], "conv_dim": {str(i): d["I"] for i in range(d["L"])},
               "layer_type": ["h"] * d["L"]}
    for key, value in derived.items():
        if key not in overrides:
            cfg[key] = value
    cfg["torch_dtype"] = "float32"  # replaced by the caller with the real dtype
    return cfg


def dims(cfg):
    """Derived sizes (HYMBA.md "Config keys that matter")."""
    H, nh, kvh = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    I = int(cfg["mamba_expand"] * H)
    R = cfg["mamba_dt_rank"]
    R = math.ceil(H / 16) if R == "auto" else int(R)
    consumers = {l for g in cfg.get("kv_reuse_group") or [] for l in g[1:]}
    return {"V": cfg["vocab_size"], "H": H, "L": cfg["num_hidden_layers"], "nh": nh, "kvh": kvh,
            "dq": H // nh, "dv": I // nh, "I": I, "N": cfg["mamba_d_state"],
            "Kc": cfg["mamba_d_conv"], "R": R, "F": cfg["intermediate_size"],
            "M": cfg["num_memory_tokens"], "consumers": consumers}


def check_kv_groups(cfg):
    """A kv_reuse group must not mix full-attention and SWA layers (the engine refuses it)."""
    glob = set(cfg.get("global_attn_idx") or [])
    for group in cfg.get("kv_reuse_group") or []:
        if len({l in glob for l in group}) > 1:
            raise ValueError(f"kv_reuse_group {group} mixes global and sliding-window layers")


# ---------------------------------------------------------------------------------------------
# Tensors: (name, shape, init). init is ("normal", mean, std), ("log_uniform_a", lo, hi),
# ("in_proj", qk_rows, std), ("dt_bias", dt_min, dt_max) or ("copy", name, shape, init).
def tensor_specs(cfg, write_lm_head):
    d = dims(cfg)
    H, I, N, R, F, V = d["H"], d["I"], d["N"], d["R"], d["F"], d["V"]
    norm = ("normal", 1.0, 0.1)
    tied = cfg["tie_word_embeddings"]
    specs = [("model.embed_tokens.weight", (V, H), ("normal", 0.0, 1.0))]
    if d["M"] > 0:
        specs.append(("model.memory_tokens", (d["M"], H), ("normal", 0.0, 1.0)))
    for i in range(d["L"]):
        p = f"model.layers.{i}."
        m = p + "mamba."
        producer = i not in d["consumers"]
        # in_proj rows: q | k | v (producers only) | x | z. q and k get QK_GAIN.
        kv_rows = d["kvh"] * d["dq"] + d["kvh"] * d["dv"] if producer else 0
        specs += [(p + "input_layernorm.weight", (H,), norm),
                  (m + "in_proj.weight", (H + kv_rows + 2 * I, H),
                   ("in_proj", H + (d["kvh"] * d["dq"] if producer else 0), 1 / math.sqrt(H)))]
        if cfg["mamba_proj_bias"]:
            specs.append((m + "in_proj.bias", (H + kv_rows + 2 * I,), ("normal", 0.0, 0.1)))
        specs.append((m + "conv1d.weight", (I, 1, d["Kc"]),
                      ("normal", 0.0, 1 / math.sqrt(d["Kc"]))))
        if cfg["mamba_conv_bias"]:
            specs.append((m + "conv1d.bias", (I,), ("normal", 0.0, 0.1)))
        specs += [(m + "x_proj.0.weight", (R + 2 * N, I), ("normal", 0.0, 1 / math.sqrt(I))),
                  (m + "dt_proj.0.weight", (I, R), ("normal", 0.0, 1 / math.sqrt(R))),
                  (m + "dt_proj.0.bias", (I,), ("dt_bias", 1e-3, 1e-1)),
                  (m + "A_log.0", (I, N), ("log_uniform_a", 1.0, 16.0)),
                  (m + "D.0", (I,), norm)]
        if cfg["mamba_inner_layernorms"]:
            specs += [(m + "dt_layernorm.weight", (R,), norm),
                      (m + "B_layernorm.weight", (N,), norm),
                      (m + "C_layernorm.weight", (N,), norm)]
        specs += [(m + "pre_avg_layernorm1.weight", (I,), norm),
                  (m + "pre_avg_layernorm2.weight", (I,), norm),
                  (m + "out_proj.weight", (H, I), ("normal", 0.0, RESIDUAL_GAIN / math.sqrt(I)))]
        if cfg["mamba_proj_bias"]:
            specs.append((m + "out_proj.bias", (H,), ("normal", 0.0, 0.1)))
        e = p + "moe.experts.0."
        specs.append((p + "pre_moe_layernorm.weight", (H,), norm))
        if cfg["mlp_hidden_act"] == "silu":
            specs.append((e + "gate_proj.weight", (F, H), ("normal", 0.0, 1 / math.sqrt(H))))
        specs += [(e + "up_proj.weight", (F, H), ("normal", 0.0, 1 / math.sqrt(H))),
                  (e + "down_proj.weight", (H, F), ("normal", 0.0, RESIDUAL_GAIN / math.sqrt(F)))]
    # Output scale: tied models keep N(0, 1) embeddings and scale the final norm instead.
    out_gain = LOGIT_STD / math.sqrt(H)
    specs.append(("model.final_layernorm.weight", (H,),
                  ("normal", out_gain, 0.1 * out_gain) if tied else norm))
    if tied and write_lm_head:
        specs.append(("lm_head.weight", (V, H), ("copy",) + specs[0]))
    elif not tied:
        specs.append(("lm_head.weight", (V, H), ("normal", 0.0, out_gain)))
    return specs


def generate(name, shape, init, seed):
    """Yields the tensor's float32 values in row-major chunks of whole rows."""
    kind = init[0]
    if kind == "copy":  # ("copy", source name, source shape, source init)
        yield from generate(init[1], init[2], init[3], seed)
        return
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    rows = shape[0]
    row_elems = int(np.prod(shape[1:], dtype=np.int64))
    step = max(1, CHUNK_ELEMS // max(1, row_elems))
    for r0 in range(0, rows, step):
        n = min(step, rows - r0) * row_elems
        if kind == "normal":
            v = rng.standard_normal(n, dtype=np.float32)
            v *= np.float32(init[2])
            v += np.float32(init[1])
        elif kind == "in_proj":  # rows [0, qk_rows) get QK_GAIN
            v = rng.standard_normal(n, dtype=np.float32).reshape(-1, row_elems)
            v *= np.float32(init[2])
            v[:max(0, min(init[1] - r0, v.shape[0]))] *= np.float32(QK_GAIN)
            v = v.reshape(-1)
        elif kind == "log_uniform_a":
            v = np.log(rng.uniform(init[1], init[2], n)).astype(np.float32)
        elif kind == "dt_bias":  # softplus(bias) = dt, dt log-uniform in [dt_min, dt_max]
            dt = np.exp(rng.uniform(math.log(init[1]), math.log(init[2]), n))
            v = (dt + np.log(-np.expm1(-dt))).astype(np.float32)
        else:
            raise ValueError(f"unknown init {init} for {name}")
        yield v


# ---------------------------------------------------------------------------------------------
# Safetensors
def f32_to_bf16_bits(v):
    """Round-to-nearest-even float32 -> bfloat16 bit patterns (uint16)."""
    u = np.ascontiguousarray(v, dtype=np.float32).view(np.uint32)
    return ((u + (((u >> 16) & 1) + np.uint32(0x7FFF))) >> 16).astype(np.uint16)


def shard_plan(specs, nbytes, shards):
    """Splits the tensor list into `shards` contiguous, non-empty groups of similar byte size."""
    shards = max(1, min(shards, len(specs)))
    sizes = [nbytes(s) for s in specs]
    total, groups, cur, acc = sum(sizes), [], [], 0
    for i, (spec, size) in enumerate(zip(specs, sizes)):
        cur.append(spec)
        acc += size
        left_specs, left_groups = len(specs) - i - 1, shards - len(groups) - 1
        if left_groups > 0 and (acc >= total * (len(groups) + 1) / shards or
                                left_specs == left_groups):
            groups.append(cur)
            cur = []
    groups.append(cur)
    return [g for g in groups if g]


def write_safetensors(path, specs, dtype, seed):
    st_dtype, item = ("BF16", 2) if dtype == "bf16" else ("F32", 4)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in specs:
        n = int(np.prod(shape, dtype=np.int64)) * item
        header[name] = {"dtype": st_dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for name, shape, init in specs:
            for chunk in generate(name, shape, init, seed):
                f.write((f32_to_bf16_bits(chunk) if dtype == "bf16" else chunk).tobytes())
    return offset


def write_weights(out, specs, dtype, shards, seed):
    item = 2 if dtype == "bf16" else 4
    groups = shard_plan(specs, lambda s: int(np.prod(s[1], dtype=np.int64)) * item, shards)
    if len(groups) == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), specs, dtype, seed)
        return
    weight_map, total = {}, 0
    for k, group in enumerate(groups):
        fname = f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors"
        total += write_safetensors(os.path.join(out, fname), group, dtype, seed)
        weight_map.update({name: fname for name, _, _ in group})
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    write_json(os.path.join(out, "model.safetensors.index.json"), index)


# ---------------------------------------------------------------------------------------------
# Tokenizer
def train_tokenizer():
    """A Llama-style SentencePiece BPE model (byte fallback, <unk>=0, <s>=1, </s>=2), as bytes."""
    import sentencepiece as spm
    with open(CORPUS, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    model = io.BytesIO()
    spm.set_random_generator_seed(1)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="bpe",
        vocab_size=TOKENIZER_VOCAB, byte_fallback=True, character_coverage=0.995,
        split_digits=True, add_dummy_prefix=True, remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True, normalization_rule_name="identity",
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, input_sentence_size=0,
        shuffle_input_sentence=False, minloglevel=2)
    return model.getvalue()


def tokenizer_files(cfg, vocab):
    def token(content):
        return {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False, "special": True}
    tok_cfg = {
        "add_bos_token": True, "add_eos_token": False,
        "added_tokens_decoder": {"0": token("<unk>"), "1": token("<s>"), "2": token("</s>"),
                                 str(vocab): token("[PAD]")},
        "bos_token": "<s>", "clean_up_tokenization_spaces": False, "eos_token": "</s>",
        "legacy": True, "model_max_length": cfg["max_position_embeddings"],
        "pad_token": "[PAD]", "padding_side": "left", "sp_model_kwargs": {},
        "spaces_between_special_tokens": False, "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>", "use_default_system_prompt": False,
    }
    if os.path.exists(CHAT_TEMPLATE):
        with open(CHAT_TEMPLATE, encoding="utf-8") as f:
            tok_cfg["chat_template"] = f.read()
    special = {k: token(v) for k, v in
               [("bos_token", "<s>"), ("eos_token", "</s>"), ("pad_token", "[PAD]"),
                ("unk_token", "<unk>")]}
    return tok_cfg, special


# ---------------------------------------------------------------------------------------------
def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", required=True, choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["bf16", "f32"])
    ap.add_argument("--shards", type=int)
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tied", dest="tied", action="store_true", default=None)
    tie.add_argument("--untied", dest="tied", action="store_false")
    ap.add_argument("--write-lm-head", action="store_true",
                    help="also store lm_head.weight (= the embedding) in a tied checkpoint")
    ap.add_argument("--config-json", default="{}", help="JSON object of config keys to override")
    ap.add_argument("--no-validate", action="store_true",
                    help="write configs the engine must refuse (for negative tests)")
    args = ap.parse_args(argv)

    preset = PRESETS[args.preset]
    overrides = json.loads(args.config_json)
    if not isinstance(overrides, dict):
        ap.error("--config-json: expected a JSON object")
    tied = preset["tied"] if args.tied is None else args.tied
    if "tie_word_embeddings" in overrides:
        tied = bool(overrides["tie_word_embeddings"])
    dtype = args.dtype or preset["dtype"]
    shards = args.shards or preset["shards"]
    write_lm_head = args.write_lm_head or preset.get("write_lm_head", False)

    tokenizer = train_tokenizer()
    cfg = build_config(preset, overrides, tied, TOKENIZER_VOCAB)
    cfg["torch_dtype"] = "bfloat16" if dtype == "bf16" else "float32"
    if not args.no_validate:
        try:
            check_kv_groups(cfg)
        except ValueError as e:
            ap.error(str(e))

    os.makedirs(args.out, exist_ok=True)
    config_path = os.path.join(args.out, "config.json")
    if os.path.exists(config_path):
        os.remove(config_path)  # not "done" until rewritten
    for name in os.listdir(args.out):  # stale weights from an earlier layout
        if name.endswith(".safetensors") or name == "model.safetensors.index.json":
            os.remove(os.path.join(args.out, name))
    write_weights(args.out, tensor_specs(cfg, write_lm_head), dtype, shards, args.seed)
    with open(os.path.join(args.out, "tokenizer.model"), "wb") as f:
        f.write(tokenizer)
    tok_cfg, special = tokenizer_files(cfg, TOKENIZER_VOCAB)
    write_json(os.path.join(args.out, "tokenizer_config.json"), tok_cfg)
    write_json(os.path.join(args.out, "special_tokens_map.json"), special)
    write_json(config_path + ".tmp", dict(sorted(cfg.items())))
    os.replace(config_path + ".tmp", config_path)
    print(f"wrote {args.preset} checkpoint to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
