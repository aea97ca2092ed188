#!/usr/bin/env bash
# ghz-run.sh METHOD [reflection|proto]: one ghz (>= 0.110) run against hymba.v1.Hymba/METHOD
# (Generate: server streaming; Complete: unary), written as JSON to $OUT.
#
#   reflection (default): the method is resolved through the server's reflection service.
#   proto:                from proto/hymba/v1/hymba.proto in this repository (--import-paths).
#
# Knobs (environment):
#   HYMBA_ADDRESS  server host:port                       (localhost:50051)
#   CONCURRENCY    ghz workers, calls in flight             (8)
#   TOTAL          calls to make; ignored when DURATION set (200; must be >= CONCURRENCY)
#   DURATION       run for this long, e.g. 60s or 5m; calls in flight then finish (--duration-stop wait)
#   RPS            constant request rate limit, 0 = none   (0)
#   CONNECTIONS    HTTP/2 connections shared by the workers (1)
#   WARMUP         first calls left out of the statistics  (0)
#   DATA_FILE      the GenerateRequest as JSON              (generate_request.json beside this script)
#   OUT            the report                               (results/ghz-METHOD-VARIANT-TIME.json)
#   GHZ            the ghz binary                           (ghz)
# Extra arguments after the variant go to ghz unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
method="${1:?usage: ghz-run.sh Generate|Complete [reflection|proto] [ghz options...]}"
variant="${2:-reflection}"
shift $(($# < 2 ? $# : 2))

case "$method" in
  Generate | Complete) ;;
  *) echo "ghz-run.sh: METHOD must be Generate or Complete, not '$method'" >&2; exit 2 ;;
esac

args=(
  --insecure
  --call "hymba.v1.Hymba.${method}"
  --data-file "${DATA_FILE:-$here/generate_request.json}"
  --concurrency "${CONCURRENCY:-8}"
  --connections "${CONNECTIONS:-1}"
  # A generation can outlive ghz's default 20 s per-call timeout; 0 = none.
  -t 0
  --format json
  --name "hymba.v1.Hymba/${method} (${variant})"
)
case "$variant" in
  reflection) ;;
  proto) args+=(--proto hymba/v1/hymba.proto --import-paths "$repo/proto") ;;
  *) echo "ghz-run.sh: variant must be reflection or proto, not '$variant'" >&2; exit 2 ;;
esac
out="${OUT:-$here/results/ghz-${method,,}-${variant}-$(date +%Y%m%dT%H%M%S).json}"
mkdir -p "$(dirname "$out")"
args+=(--output "$out")
if [[ -n "${DURATION:-}" ]]; then
  args+=(--duration "$DURATION" --duration-stop wait)
else
  args+=(--total "${TOTAL:-200}")
fi
if [[ "${RPS:-0}" != 0 ]]; then args+=(--rps "$RPS"); fi
if [[ "${WARMUP:-0}" != 0 ]]; then args+=(--skipFirst "$WARMUP"); fi

echo "+ ${GHZ:-ghz} ${args[*]} $* ${HYMBA_ADDRESS:-localhost:50051}" >&2
"${GHZ:-ghz}" "${args[@]}" "$@" "${HYMBA_ADDRESS:-localhost:50051}"
echo "report: $out" >&2
