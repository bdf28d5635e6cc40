#!/usr/bin/env bash
# Set up (first time only), then run the test suite; extra arguments go to pytest
# (e.g. `scripts/test.sh -m "not slow"` for the fast tests only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec "$PSYBENCH_VENV/bin/python" -m pytest -q "$@"
