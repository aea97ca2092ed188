#!/usr/bin/env bash
# ghz-complete.sh [reflection|proto] [ghz options...]: ghz on the unary Complete call.
# Knobs and output: see ghz-run.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/ghz-run.sh" Complete "$@"
