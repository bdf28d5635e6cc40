#!/usr/bin/env bash
# Set up (first time only), then run the main job: `run_bench.py` with the given flags, or with none
# the embedded default (SmolLM2-135M-Instruct on vLLM, a slice of English task 1, scored).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$PSYBENCH_VENV/bin/python" run_bench.py "$@"
