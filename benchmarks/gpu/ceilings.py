#!/usr/bin/env python3
"""This GPU's ceilings, measured now with PyTorch: device-to-device copy bandwidth (bytes read +
written per second, 4 GiB buffers) and dense bf16 matmul rate (8192^3), each the median of 10
timed runs after 3 warm-ups, on random data. Prints one JSON object; falls back to the H200
datasheet (4.8 TB/s, 989 TFLOP/s) with "source": "datasheet" when PyTorch or the GPU is missing."""
import json
import statistics
import sys


def timed(fn, torch, repeats=10, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    return statistics.median(times)


def main():
    try:
        import torch
        assert torch.cuda.is_available()
    except Exception as e:  # noqa: BLE001
        print(f"ceilings: no PyTorch GPU ({e}); datasheet values", file=sys.stderr)
        print(json.dumps({"source": "datasheet", "bandwidth_gb_s": 4800.0, "bf16_tflop_s": 989.0}))
        return 0
    n = 1 << 30  # floats: 4 GiB
    src = torch.rand(n, device="cuda")
    dst = torch.empty_like(src)
    t_copy = timed(lambda: dst.copy_(src), torch)
    del src, dst
    m = 8192
    a = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(m, m, device="cuda", dtype=torch.bfloat16)
    t_mm = timed(lambda: a @ b, torch)
    print(json.dumps({"source": "measured", "device": torch.cuda.get_device_name(),
                      "bandwidth_gb_s": round(2 * 4 * n / t_copy / 1e9, 1),
                      "bf16_tflop_s": round(2 * m ** 3 / t_mm / 1e12, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
