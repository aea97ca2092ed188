#!/usr/bin/env bash
# Packs what benchmarks/gpu/run.sh needs on the device machine (which has the CUDA toolkit and
# Python but no apt and no gRPC) into one archive: the GPU test binaries, the `hymba` CLI, the
# tiny test checkpoints, and every shared library those binaries load (found with ldd) except
#   - the C/C++ runtime (glibc, libstdc++, libgcc_s): the device image has newer, compatible ones;
#   - the CUDA driver and toolkit libraries (libcuda, cuBLAS, cudart): they must be the device's.
# Binaries and libraries are stripped; each binary gets a wrapper in bin/ that puts the bundled
# libraries (and $HYMBA_CUDA_LIBS, set by run.sh) on LD_LIBRARY_PATH.
#
# Usage: benchmarks/gpu/pack.sh [build_dir] [out_dir]
#   build_dir  a HYMBA_WITH_CUDA=ON build with tools/hymba, server/hymba-server, tests/gpu_test and
#              tests/backend_test
#              (default: build-cuda)
#   out_dir    gets hymba-gpu.tar.gz (default: build-gpu-pack; /build*/ is git-ignored)
# The unpacked tree is left in build-gpu-stage/hymba-gpu for inspection. Then, on the device
# machine (the `run` tool): carry ["build-gpu-pack"], command "benchmarks/gpu/run.sh build-gpu-pack".
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-cuda}
out=${2:-build-gpu-pack}
stage=build-gpu-stage/hymba-gpu
binaries=(tools/hymba server/hymba-server tests/gpu_test tests/backend_test)
# Libraries the device provides (see above); matched against ldd's left-hand names.
excluded='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|libresolv\.so|libstdc\+\+\.so|libgcc_s\.so|libcuda\.so|libcublas\.so|libcublasLt\.so|libcudart\.so)'
cuda_libs=${HYMBA_CUDA_LIBS:-/usr/local/cuda/lib64}

for b in "${binaries[@]}"; do
  [ -x "$build/$b" ] || { echo "pack: $build/$b is missing (build it first)" >&2; exit 1; }
done
grep -qa "libcublas.so." "$build/tests/gpu_test" ||
  echo "pack: warning: $build may not be a CUDA build" >&2
rm -rf "$stage" && mkdir -p "$stage"/{bin,libexec,lib,testdata}
for b in "${binaries[@]}"; do
  name=$(basename "$b")
  cp "$build/$b" "$stage/libexec/$name"
  strip --strip-unneeded "$stage/libexec/$name"
  cat > "$stage/bin/$name" <<WRAP
#!/bin/sh
here=\$(cd "\$(dirname "\$0")/.." && pwd)
LD_LIBRARY_PATH="\$here/lib\${HYMBA_CUDA_LIBS:+:\$HYMBA_CUDA_LIBS}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" \\
  exec "\$here/libexec/$name" "\$@"
WRAP
  chmod +x "$stage/bin/$name"
  LD_LIBRARY_PATH="$cuda_libs" ldd "$build/$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' |
    while read -r soname path; do
      if [[ "$soname" =~ $excluded ]] || [ -e "$stage/lib/$soname" ]; then continue; fi
      cp -L "$path" "$stage/lib/$soname"
      chmod u+w "$stage/lib/$soname"
      strip --strip-unneeded "$stage/lib/$soname" 2>/dev/null || true
    done
done
# This machine's C++ runtime, used on the device only if its own is older (run.sh decides).
mkdir -p "$stage/lib-cxx"
for soname in libstdc++.so.6 libgcc_s.so.1; do
  path=$(ldd "$build/tools/hymba" | awk -v n="$soname" '$1 == n {print $3}')
  [ -n "$path" ] && cp -L "$path" "$stage/lib-cxx/$soname"
done
for preset in tiny-a tiny-b tiny-c tiny-d tiny-e; do
  cp -r "$build/testdata/$preset" "$stage/testdata/"
done

# Every library a binary loads resolves inside the bundle, or is one the device provides.
status=0
for name in $(ls "$stage/libexec"); do
  while read -r soname arrow path _; do
    if [ "$path" = "not" ]; then
      echo "pack: $name: $soname not found" >&2
      status=1
    elif [[ ! "$soname" =~ $excluded ]] && [[ "$path" != "$PWD/$stage/lib/"* ]]; then
      echo "pack: $name: $soname resolves outside the bundle ($path)" >&2
      status=1
    fi
  done < <(LD_LIBRARY_PATH="$PWD/$stage/lib:$cuda_libs" ldd "$stage/libexec/$name" | awk '$2 == "=>"')
done
[ "$status" = 0 ] || exit 1

mkdir -p "$out"
rm -f "$out"/hymba-gpu.tar.gz
tar -C "$(dirname "$stage")" -czf "$out/hymba-gpu.tar.gz" hymba-gpu
size=$(stat -c %s "$out/hymba-gpu.tar.gz")
echo "pack: $out/hymba-gpu.tar.gz $((size / 1048576)) MiB ($(du -sm "$stage" | cut -f1) MiB unpacked," \
  "$(ls "$stage/lib" | wc -l) libraries)"
if [ "$size" -gt $((56 * 1048576)) ]; then
  echo "pack: too large to carry (the device tool takes 64 MiB with the working tree)" >&2
  exit 1
fi
echo "pack: next, the run tool: carry [\"$out\"], command \"benchmarks/gpu/run.sh $out\", timeout_s 570"
