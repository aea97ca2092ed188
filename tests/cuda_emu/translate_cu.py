#!/usr/bin/env python3
"""Rewrites a CUDA source into plain C++ for the CPU stand-in runtime (tests/cuda_emu/include):

    translate_cu.py IN.cu OUT.cc

`K<<<grid, block[, smem[, stream]]>>>(args)` becomes
`::hymba_emu::Launcher(grid, block, smem, stream).Run(K, args)`, and
`extern __shared__ [__align__(n)] T name[];` becomes a `T*` to the block's dynamic shared memory.
Everything else is left to the stand-in headers. A `#line` directive keeps diagnostics pointing at
the original file.
"""
import os
import re
import sys

LAUNCH = re.compile(r"(\w+)\s*<<<(.+?)>>>\s*\(\s*")
EXTERN_SHARED = re.compile(
    r"extern\s+__shared__\s+(?:__align__\(\d+\)\s+)?([\w:]+(?:\s+[\w:]+)*?)\s+(\w+)\s*\[\s*\]\s*;")


def translate(text):
    text = EXTERN_SHARED.sub(
        lambda m: f"{m.group(1)}* {m.group(2)} = reinterpret_cast<{m.group(1)}*>("
                  f"::hymba_emu::DynamicShared());", text)
    return LAUNCH.sub(lambda m: f"::hymba_emu::Launcher({m.group(2)}).Run({m.group(1)}, ", text)


def main(argv):
    src, dst = argv[1], argv[2]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    out = f'#line 1 "{src}"\n' + translate(text)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
