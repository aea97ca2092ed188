#!/usr/bin/env bash
# hymba-server under `hymba loadgen` on this machine: one server, one closed-loop run per
# concurrency, a JSON report per run and a summary table.
#
# Usage: benchmarks/serve_loadgen.sh MODEL_DIR [CONCURRENCIES] [PROMPT_LEN] [OUTPUT_LEN] [ROUNDS]
#   CONCURRENCIES "1 8 32"; each run sends ROUNDS x concurrency requests (default ROUNDS 4)
#   after concurrency warm-up requests. Env: BUILD (build), THREADS (2), PRECISION (bf16),
#   MAX_SLOTS (largest concurrency), OUT (a temporary folder for the JSON reports),
#   SERVER_ENV (e.g. "OMP_WAIT_POLICY=PASSIVE"), SERVER_ARGS (extra hymba-server flags, e.g.
#   "--max_batch_tokens 136").
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1
concurrencies=${2:-"1 8 32"}
prompt=${3:-128}
output=${4:-128}
rounds=${5:-4}
build=${BUILD:-build}
threads=${THREADS:-2}
max_c=$(echo "$concurrencies" | tr ' ' '\n' | sort -n | tail -1)
slots=${MAX_SLOTS:-$max_c}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
log="$out/server.log"
env ${SERVER_ENV:-} "$build/server/hymba-server" --model "$model" --host 127.0.0.1 --port 0 \
  --metrics_port -1 --threads "$threads" --precision "${PRECISION:-bf16}" --max_slots "$slots" \
  --max_seq_len $((prompt + output + 16)) ${SERVER_ARGS:-} >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  port=$(grep -o 'serving .* on [0-9.]*:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.5
done
[ -n "$port" ] || { echo "the server did not start" >&2; exit 1; }
echo "server: $(grep -o 'serving .*' "$log")"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in $concurrencies; do
  "$build/tools/hymba" loadgen --address "127.0.0.1:$port" --concurrency "$c" \
    --requests $((rounds * c)) --warmup "$c" --prompt-len "$prompt" --output-len "$output" \
    --json "$out/c$c.json" >/dev/null
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$out" $concurrencies <<'PY'
import json, sys
out, cs = sys.argv[1], sys.argv[2:]
print(f"{'C':>3} {'req/s':>7} {'out tok/s':>10} {'TTFT p50':>9} {'TTFT p99':>9} {'ITL p50':>8} {'ITL p99':>8} {'E2E p50':>8}  (ms)")
for c in cs:
    r = json.load(open(f"{out}/c{c}.json"))
    t = lambda k, q: r[k][q] if isinstance(r.get(k), dict) else float("nan")
    print(f"{c:>3} {r['requests_per_s']:>7.2f} {r['output_tokens_per_s']:>10.1f} "
          f"{t('ttft_ms','p50'):>9.0f} {t('ttft_ms','p99'):>9.0f} {t('itl_ms','p50'):>8.1f} "
          f"{t('itl_ms','p99'):>8.1f} {t('e2e_ms','p50'):>8.0f}")
print("reports:", out)
PY
