#!/usr/bin/env bash
# ghz-generate.sh [reflection|proto] [ghz options...]: ghz on the streaming Generate call.
# Knobs and output: see ghz-run.sh.
exec "$(dirname "${BASH_SOURCE[0]}")/ghz-run.sh" Generate "$@"
