#!/usr/bin/env python3
"""One table from `hymba bench --context` JSON lines, the measured ceilings and the checkpoint's
config.json (benchmarks/gpu/run.sh):

    summarize.py bench.jsonl ceilings.json config.json

Decode moves at least, per step: every streamed weight once, and per sequence its whole state
(K/V of every producer layer at this context, conv and SSM state read and written). Its achieved
bandwidth is those bytes over the step time. FLOPs per token: 2 per weight of every GEMM (prefill
skips lm_head, which runs once per sequence) plus attention, 2·nh·(dq + dv) per visible key and
layer (HYMBA.md visibility: meta tokens, then the window or every earlier position); the SSM scan
and norms add under 1% and are left out.
"""
import json
import math
import sys

MIB = 1048576.0


def dims(cfg):
    H, nh, kvh = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    I = int(cfg["mamba_expand"] * H)
    return {"H": H, "nh": nh, "kvh": kvh, "dq": H // nh, "dv": I // nh, "I": I,
            "L": cfg["num_hidden_layers"], "M": cfg["num_memory_tokens"],
            "W": cfg["sliding_window"], "V": cfg["vocab_size"], "N": cfg["mamba_d_state"],
            "Kc": cfg["mamba_d_conv"], "glob": set(cfg.get("global_attn_idx") or [])}


def attention_flops(d, visible_global, visible_swa):
    per_key = 2 * d["nh"] * (d["dq"] + d["dv"])
    n_global = len(d["glob"])
    return per_key * (n_global * visible_global + (d["L"] - n_global) * visible_swa)


def prefill_flops_per_token(d, params, context):
    # Mean visible keys over positions 0..context-1 of the prompt (after the M meta tokens).
    vis_global = d["M"] + (context + 1) / 2
    w = d["W"]
    swa_sum = sum(min(p, w) + 1 for p in range(min(context, w))) + max(0, context - w) * (w + 1)
    vis_swa = d["M"] + swa_sum / context
    return 2 * (params - d["V"] * d["H"]) + attention_flops(d, vis_global, vis_swa)


def decode_flops_per_token(d, params, context):
    return 2 * params + attention_flops(d, d["M"] + context + 1, d["M"] + min(context, d["W"]) + 1)


def main(argv):
    rows = [json.loads(line) for line in open(argv[1]) if line.startswith("{")]
    ceil = json.load(open(argv[2])) if len(argv) > 2 else {}
    d = dims(json.load(open(argv[3])))
    bw = ceil.get("bandwidth_gb_s") or 4800.0
    peak = ceil.get("bf16_tflop_s") or 989.0
    src = ceil.get("source", "datasheet")
    if not rows:
        print("no benchmark rows")
        return 1
    print(f"device: {rows[0]['device']}; weights {rows[0]['precision']}, K/V cache "
          f"{rows[0]['kv_cache']}; ceilings ({src}): {bw:.0f} GB/s copy bandwidth, "
          f"{peak:.0f} TFLOP/s bf16 matmul")
    head = ("batch", "context", "prefill tok/s", "decode tok/s", "ms/step", "state MiB/seq",
            "decode GB/s", "of BW", "prefill TFLOP/s", "of bf16", "decode TFLOP/s", "of bf16")
    table = []
    for r in rows:
        b, c = r["batch"], r["context"]
        weight_bytes = r["streamed_weight_mib"] * MIB
        params = weight_bytes / (2 if r["precision"] == "bf16" else 4)
        recurrent = d["L"] * d["I"] * (d["Kc"] - 1 + d["N"]) * 4  # conv + SSM, written back too
        step_bytes = weight_bytes + b * (r["state_mib_at_context"] * MIB + recurrent)
        step_s = r["decode_step_ms"] / 1e3
        dec_gb_s = step_bytes / step_s / 1e9
        pre_tf = r["prefill_tok_s"] * prefill_flops_per_token(d, params, c) / 1e12
        dec_tf = r["decode_tok_s"] * decode_flops_per_token(d, params, c) / 1e12
        table.append((b, c, f"{r['prefill_tok_s']:.0f}", f"{r['decode_tok_s']:.0f}",
                      f"{r['decode_step_ms']:.2f}", f"{r['state_mib_at_context']:.1f}",
                      f"{dec_gb_s:.0f}", f"{dec_gb_s / bw:.2f}", f"{pre_tf:.1f}",
                      f"{pre_tf / peak:.3f}", f"{dec_tf:.1f}", f"{dec_tf / peak:.3f}"))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    for line in [head] + table:
        print("  ".join(str(x).rjust(w) for x, w in zip(line, widths)))
    prefill_seqs = sorted({r["prefill_seqs"] for r in rows})
    print(f"prefill: {'/'.join(map(str, prefill_seqs))} sequence(s) of `context` tokens per cell "
          f"(other slots forked); decode: {rows[0]['gen_len']} steps after one warm-up step")
    target = [r for r in rows if r["batch"] == 128 and r["context"] == 8192]
    if target:
        t = target[0]["decode_tok_s"]
        print(f"target: decode at batch 128, context 8K: {t:.0f} tok/s "
              f"({'meets' if t >= 10000 else 'below'} 10,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
