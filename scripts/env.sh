# Environment shared by scripts/run.sh and scripts/test.sh (sourced, not executed).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PSYBENCH_VENV=${PSYBENCH_VENV:-$ROOT/.venv}
# Offline by default: hub look-ups fail fast instead of hanging on retries (OFFLINE.md).
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
export TRANSFORMERS_OFFLINE=${TRANSFORMERS_OFFLINE:-$HF_HUB_OFFLINE}
# vLLM's CPU build: a 1 GiB KV cache (start-up fails on this VM's NUMA report without it), loopback only.
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}
export VLLM_HOST_IP=${VLLM_HOST_IP:-127.0.0.1}
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
export TOKENIZERS_PARALLELISM=${TOKENIZERS_PARALLELISM:-false}
export PYTHONUNBUFFERED=1
