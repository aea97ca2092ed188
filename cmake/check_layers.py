#!/usr/bin/env python3
"""Fails (exit 1) when a source file includes a header its layer must not see (DESIGN.md)."""
import pathlib
import re
import sys

# (folder prefix, forbidden include prefixes, files exempt from the rule)
RULES = [
    ("proto/", ["engine/", "scheduler/", "server/"], []),
    ("engine/base/", ["engine/model/", "engine/cpu/", "engine/cuda/", "engine/kv/",
                      "engine/hymba_engine.h", "scheduler/", "server/", "hymba/v1/"], []),
    ("engine/model/", ["engine/cpu/", "engine/cuda/", "engine/kv/", "engine/hymba_engine.h",
                       "scheduler/", "server/", "hymba/v1/"], []),
    ("engine/cpu/", ["engine/cuda/", "engine/model/", "engine/kv/", "engine/hymba_engine.h",
                     "scheduler/", "server/", "hymba/v1/"], []),
    ("engine/cuda/", ["engine/cpu/", "engine/model/", "engine/kv/", "engine/hymba_engine.h",
                      "scheduler/", "server/", "hymba/v1/"], []),
    ("engine/", ["scheduler/", "server/", "hymba/v1/"], []),
    ("scheduler/", ["engine/model/", "engine/cpu/", "engine/cuda/", "engine/kv/",
                    "engine/hymba_engine.h", "server/", "hymba/v1/"], []),
    ("server/", ["engine/model/", "engine/cpu/", "engine/cuda/", "engine/kv/",
                 "engine/hymba_engine.h"], ["server/main.cc"]),
]
CUDA_GUARD_ALLOWED = {"engine/backend_factory.cc"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
CUDA_GUARD = re.compile(r'^\s*#\s*if(def)?\s+.*HYMBA_WITH_CUDA', re.M)


def main(root: pathlib.Path) -> int:
    errors = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in {".h", ".cc", ".cu", ".cuh"} or "build" in path.parts[len(root.parts):][:1]:
            continue
        rel = path.relative_to(root).as_posix()
        text = path.read_text(errors="replace")
        for prefix, forbidden, exempt in RULES:
            if not rel.startswith(prefix):
                continue
            if rel not in exempt:
                for inc in INCLUDE.findall(text):
                    if any(inc.startswith(f) for f in forbidden):
                        errors.append(f"{rel}: includes \"{inc}\", which layer {prefix} must not see")
            break
        if CUDA_GUARD.search(text) and rel not in CUDA_GUARD_ALLOWED:
            errors.append(f"{rel}: HYMBA_WITH_CUDA may only be tested in the backend factory")
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
