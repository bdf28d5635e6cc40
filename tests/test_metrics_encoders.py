"""Encoder resolution (fast: no model is loaded) and the WordNet finder."""
from __future__ import annotations

from pathlib import Path

import pytest

from psybench.assets.encoders import resolve_encoder
from psybench.assets.wordnet import ensure_wordnet
from psybench.errors import ConfigError, MissingResourceError


def test_minilm_alias() -> None:
    spec = resolve_encoder("minilm", "en")
    assert (spec.name, spec.num_layers, spec.label) == ("all-MiniLM-L6-v2", 5, "all-MiniLM-L6-v2:L5")
    assert (Path(spec.path) / "config.json").is_file()
    assert resolve_encoder("minilm", "en", num_layers=3).label == "all-MiniLM-L6-v2:L3"


def test_english_only_encoder_refused_for_chinese() -> None:
    with pytest.raises(ConfigError, match="English-only"):
        resolve_encoder("minilm", "zh")
    assert resolve_encoder("minilm", "zh", allow_lang_mismatch=True).name == "all-MiniLM-L6-v2"


def test_paper_default_offline_names_models_and_aliases(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty hub cache
    with pytest.raises(MissingResourceError) as err:
        resolve_encoder(None, "en")
    msg = str(err.value)
    assert "roberta-large" in msg and "bert-base-chinese" in msg and "minilm" in msg and "e5" in msg
    assert "\n" not in msg
    with pytest.raises(MissingResourceError, match="bert-base-chinese not found locally"):
        resolve_encoder(None, "zh")


def test_local_folder(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="--bertscore-layer"):
        resolve_encoder(str(tmp_path), "en")
    spec = resolve_encoder(str(tmp_path), "zh", num_layers=4)
    assert (spec.path, spec.num_layers, spec.langs) == (str(tmp_path.resolve()), 4, ())


def test_wordnet_missing_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    import nltk

    import psybench.assets.wordnet as wnmod

    monkeypatch.setattr(wnmod, "_found", None)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nothing")])
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(MissingResourceError, match="^WordNet 3.0 not found: apt-get install wordnet-base"):
        ensure_wordnet(debian_dir=tmp_path / "no-debian")


def test_wordnet_assembled_from_debian_is_copied(tmp_path: Path, monkeypatch) -> None:
    import nltk

    import psybench.assets.wordnet as wnmod

    if not (wnmod.DEBIAN_WORDNET / "data.noun").is_file():
        pytest.skip("Debian wordnet-base not installed")
    monkeypatch.setattr(wnmod, "_found", None)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nothing")])
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    root = ensure_wordnet()
    folder = root / "corpora" / "wordnet"
    assert root == tmp_path / "cache" / "nltk_data" and nltk.data.path[0] == str(root)
    assert (folder / "lexnames").read_text().count("\n") == 45
    assert not any(p.is_symlink() for p in folder.iterdir())
    assert (folder / "data.noun").stat().st_size == (wnmod.DEBIAN_WORDNET / "data.noun").stat().st_size


def test_atomic_build_is_race_safe(tmp_path: Path) -> None:
    import threading
    import time

    from psybench.assets.encoders import _atomic_build

    calls = []

    def build(folder: Path) -> None:
        calls.append(folder)
        time.sleep(0.2)
        (folder / "config.json").write_text(f'{{"by": "{folder.name}"}}')

    target = tmp_path / "models" / "m"
    results = []
    threads = [threading.Thread(target=lambda: results.append(_atomic_build(target, build))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [target] * 3 and len(calls) == 3
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]  # no temp folders left behind
    assert (target / "config.json").read_text().startswith('{"by": ".m.')
    assert _atomic_build(target, lambda folder: calls.append("again")) == target and len(calls) == 3
