#!/usr/bin/env bash
# The CPU engine benchmark on a Hymba-1.5B-shaped random bf16 checkpoint, reported as ratios to
# this machine's limits measured in the same run (read bandwidth, oneDNN GEMM peak).
#
# Usage: benchmarks/cpu_bench.sh [build_dir] [model_dir]   (env THREADS=2, PRECISION=bf16)
# Writes the checkpoint with tools/make_checkpoint.py when model_dir lacks one (~3 GB, never
# committed). Prints one JSON object per measurement and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
model=${2:-$build/models/hymba-1.5b}
threads=${THREADS:-2}
precision=${PRECISION:-bf16}
py=/usr/bin/python3
[ -f "$model/config.json" ] || $py tools/make_checkpoint.py --preset hymba-1.5b --out "$model"
out=$(mktemp -d)
"$build/benchmarks/stream_read" "$threads" 2048 8 | tee "$out/stream.json"
"$build/benchmarks/gemm_peak" "$threads" 1600 11008 | tee "$out/gemm.json"
"$build/tools/hymba" bench --model "$model" --precision "$precision" --threads "$threads" \
  --batch 1 --prompt-len 512 --gen-len 32 | tee "$out/b1.json"
"$build/tools/hymba" bench --model "$model" --precision "$precision" --threads "$threads" \
  --batch 1 --prompt-len 128 --gen-len 32 | tee "$out/b1short.json"
"$build/tools/hymba" bench --model "$model" --precision "$precision" --threads "$threads" \
  --batch 8 --prompt-len 128 --gen-len 32 | tee "$out/b8.json"
"$build/benchmarks/stream_read" "$threads" 2048 8 | tee "$out/stream2.json"
$py - "$out" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
r = {p.stem: json.loads(p.read_text()) for p in d.glob("*.json")}
bw = max(r["stream"]["best_gb_s"], r["stream2"]["best_gb_s"])  # the better of the two windows
# Bytes a decode step must read: every weight once (the embedding lookup reads one row).
weight_bytes = r["b1"]["streamed_weight_mib"] * 1048576
limit = bw * 1e9 / weight_bytes
# A token costs two FLOPs per weight (multiply and add).
flops_per_token = 2 * weight_bytes / (2 if r["b1"]["precision"] == "bf16" else 4)
b1, b1s, b8 = r["b1"], r["b1short"], r["b8"]
print(json.dumps({
    "read_bandwidth_gb_s": bw,
    "decode_limit_tok_s": round(limit, 2),
    "batch1_decode_tok_s_ctx512": b1["decode_tok_s"],
    "batch1_decode_tok_s_ctx128": b1s["decode_tok_s"],
    "batch1_decode_fraction_of_bandwidth_limit_ctx128": round(b1s["decode_tok_s"] / limit, 3),
    "batch1_decode_fraction_of_bandwidth_limit_ctx512": round(b1["decode_tok_s"] / limit, 3),
    "prefill512_tok_s": b1["prefill_tok_s"],
    "prefill512_fraction_of_f32_gemm_peak": round(b1["prefill_tok_s"] * flops_per_token / (r["gemm"]["f32_m512_gflop_s"] * 1e9), 3),
    "batch8_decode_tok_s_ctx128": b8["decode_tok_s"],
    "batch8_over_batch1_ctx128": round(b8["decode_tok_s"] / b1s["decode_tok_s"], 2),
    "gemm_peak": r["gemm"],
}, indent=1))
PY
