#!/usr/bin/env bash
# The GPU check and benchmark for the device machine (one H200), from binaries built elsewhere and
# packed by benchmarks/gpu/pack.sh. About 6-8 minutes:
#   1. unpack, find the device's cuBLAS, check that every binary's libraries resolve;
#   2. stop here, with exit code 3, when there is no GPU;
#   3. GPU tests: backend op tests (CUDA against naive references), gpu_test (CUDA against the CPU
#      backend: ops on model shapes, whole-model logits, greedy decode, batch invariance), the
#      engine on CUDA against the float64 numpy reference (tests/reference) through the CLI, and
#      hymba-server on CUDA (health, one request, the metrics endpoint);
#   4. the machine's ceilings: device-to-device copy bandwidth and bf16 matmul rate (PyTorch);
#   5. a Hymba-1.5B-shaped random bf16 checkpoint (tools/make_checkpoint.py);
#   6. `hymba bench` over batch 1/32/128 x context 1K/8K on CUDA, bf16 weights and K/V;
#   7. one table (benchmarks/gpu/summarize.py): prefill and decode tok/s, state per sequence,
#      achieved fractions of the measured bandwidth and bf16 rate.
# Logs and results go to $OUT (the device tool returns it) or build-gpu-out.
#
# Usage: benchmarks/gpu/run.sh [pack_dir]   (default build-gpu-pack)
# Env: SKIP_TESTS=1, SKIP_BENCH=1, BATCHES=1,32,128, CONTEXTS=1024,8192, GEN_LEN=32,
#      PREFILL_SEQS=4 (sequences prefilled per matrix cell; the other slots are forked from them),
#      BENCH_PRESET=hymba-1.5b and BENCH_DEVICE=cuda (device of the server and the benchmark; other
#      values only to dry-run this script).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
pack=${1:-build-gpu-pack}
out=${OUT:-$repo/build-gpu-out}
work=${HYMBA_GPU_WORK:-/tmp/hymba-gpu}
mkdir -p "$out" "$work"
start=$(date +%s)
failures=()
stage() { echo; echo "== [$(($(date +%s) - start)) s] $*"; }

stage "unpack $pack/hymba-gpu.tar.gz"
[ -f "$pack/hymba-gpu.tar.gz" ] || { echo "run: $pack/hymba-gpu.tar.gz missing: run benchmarks/gpu/pack.sh and carry $pack" >&2; exit 2; }
rm -rf "$work/hymba-gpu" && tar -C "$work" -xzf "$pack/hymba-gpu.tar.gz" || exit 2
bundle=$work/hymba-gpu

# cuBLAS 13 from the device's CUDA toolkit, or from the nvidia-cublas wheel of its Python.
cuda_libs=
for d in "${HYMBA_CUDA_LIBS:-}" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
    "$(python3 -c 'import nvidia.cublas as m, os; print(os.path.join(list(m.__path__)[0], "lib"))' 2>/dev/null)"; do
  if [ -n "$d" ] && [ -e "$d/libcublas.so.13" ] && [ -e "$d/libcublasLt.so.13" ]; then cuda_libs=$d; break; fi
done
[ -n "$cuda_libs" ] || { echo "run: libcublas.so.13 not found (CUDA 13 toolkit or nvidia-cublas wheel)" >&2; exit 2; }
export HYMBA_CUDA_LIBS=$cuda_libs
echo "cuBLAS from $cuda_libs"
unresolved() {  # prints what the bundled binaries cannot load with the current library path
  for b in "$bundle"/libexec/*; do
    LD_LIBRARY_PATH="$bundle/lib:$HYMBA_CUDA_LIBS" ldd "$b" 2>&1 | grep -E "not found" |
      sed "s|^|$(basename "$b"): |"
  done
}
if unresolved | grep -E "GLIBCXX|CXXABI|libstdc|libgcc_s" > /dev/null; then
  echo "this machine's C++ runtime is older than the build machine's: using the bundled one"
  export HYMBA_CUDA_LIBS=$cuda_libs:$bundle/lib-cxx
fi
missing=0
if [ -n "$(unresolved)" ]; then
  unresolved
  echo "run: the binaries have unresolved libraries (above)" >&2
  missing=1
fi
[ "$missing" = 0 ] || exit 2

stage "GPU"
if ! command -v nvidia-smi > /dev/null || ! nvidia-smi -L 2>/dev/null | grep "^GPU" > /dev/null; then
  echo "run: no NVIDIA GPU on this machine (nvidia-smi lists none): the tests and benchmark need" \
       "the device machine. Everything before this point is ready." >&2
  exit 3
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee "$out/gpu.txt"
export OMP_WAIT_POLICY=PASSIVE HYMBA_TESTDATA=$bundle/testdata

run_gtest() {  # name, timeout, filter; a skipped test fails here: the GPU must be usable
  local name=$1 limit=$2 filter=$3 log=$out/$1.log
  timeout "$limit" "$bundle/bin/$name" --gtest_filter="$filter" > "$log" 2>&1
  local rc=$?
  tail -n 25 "$log"
  if [ "$rc" != 0 ] || grep -q "SKIPPED" "$log"; then failures+=("$name (exit $rc)"); fi
}
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  stage "backend_test"
  run_gtest backend_test 120 "*/1"  # the "cuda" instances
  stage "gpu_test"
  run_gtest gpu_test 240 "*"
  stage "reference_test: the engine on CUDA against the float64 reference"
  HYMBA_CLI=$bundle/bin/hymba timeout 240 python3 -m unittest discover -s tests/reference \
    -p "engine_vs_reference_test.py" > "$out/reference_test.log" 2>&1
  rc=$?
  tail -n 15 "$out/reference_test.log"
  [ "$rc" = 0 ] || failures+=("reference_test (exit $rc)")

  stage "server: hymba-server --device cuda on tiny-a, health, one request, metrics"
  port=50151 metrics_port=19464
  "$bundle/bin/hymba-server" --model "$bundle/testdata/tiny-a" --device "${BENCH_DEVICE:-cuda}" \
    --host 127.0.0.1 --port $port --metrics_port $metrics_port > "$out/server.log" 2>&1 &
  server_pid=$!
  serving=0
  for _ in $(seq 60); do
    if "$bundle/bin/hymba" health --address 127.0.0.1:$port > /dev/null 2>&1; then serving=1; break; fi
    sleep 0.5
  done
  if [ "$serving" = 1 ] &&
      timeout 30 "$bundle/bin/hymba" client --address 127.0.0.1:$port --tokens 5,6,7 \
        --max-tokens 8 --json &&
      python3 -c "import urllib.request as u; t = u.urlopen('http://127.0.0.1:$metrics_port/metrics').read().decode(); assert 'hymba_' in t; print('metrics ok,', len(t), 'bytes')"; then
    :
  else
    failures+=("server smoke")
  fi
  kill "$server_pid" 2> /dev/null
  wait "$server_pid" 2> /dev/null
  tail -n 5 "$out/server.log"
fi

if [ "${SKIP_BENCH:-0}" != 1 ]; then
  stage "ceilings: copy bandwidth and bf16 matmul rate"
  timeout 120 python3 benchmarks/gpu/ceilings.py > "$out/ceilings.json" ||
    echo '{}' > "$out/ceilings.json"
  cat "$out/ceilings.json"
  preset=${BENCH_PRESET:-hymba-1.5b}
  stage "$preset-shaped random bf16 checkpoint"
  model=$work/$preset
  [ -f "$model/config.json" ] || timeout 240 python3 tools/make_checkpoint.py --preset "$preset" \
    --out "$model" || { failures+=("make_checkpoint"); model=; }
  if [ -n "$model" ]; then
    stage "hymba bench: batch ${BATCHES:-1,32,128} x context ${CONTEXTS:-1024,8192}"
    timeout 300 "$bundle/bin/hymba" bench --model "$model" --device "${BENCH_DEVICE:-cuda}" \
      --precision bf16 \
      --kv-cache bf16 --batch "${BATCHES:-1,32,128}" --context "${CONTEXTS:-1024,8192}" \
      --gen-len "${GEN_LEN:-32}" --prefill-seqs "${PREFILL_SEQS:-4}" --prefill-chunk 8192 \
      | tee "$out/bench.jsonl"
    [ "${PIPESTATUS[0]}" = 0 ] || failures+=("bench")
    stage "summary"
    python3 benchmarks/gpu/summarize.py "$out/bench.jsonl" "$out/ceilings.json" \
      "$model/config.json" | tee "$out/summary.txt"
  fi
fi

stage "done"
if [ "${#failures[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failures[@]}"
  exit 1
fi
echo "all GPU checks passed"
