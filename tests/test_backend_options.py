"""Backend options are declared once per backend: the run flags derive from them, and an option the
chosen backend does not take is a one-line error naming it (exit 2), never silently dropped."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from psybench.backends import BACKENDS, backend_class, cli_options, create_backend
from psybench.cli import main
from psybench.errors import ConfigError
from psybench.runner import RunConfig


def test_every_flag_comes_from_a_declaration_and_is_recorded_in_the_run_config() -> None:
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    flags = {option.name: names for option, names in cli_options()}
    assert flags == {"dtype": ("vllm", "hf"), "enforce_eager": ("vllm",), "max_model_len": ("vllm", "openai", "hf"),
                     "tensor_parallel_size": ("vllm",), "pipeline_parallel_size": ("vllm",), "data_parallel_size": ("vllm",),
                     "lora": ("vllm", "hf"), "prefix_caching": ("vllm",), "base_url": ("openai",), "concurrency": ("openai",),
                     "base_urls_file": ("openai",)}
    assert set(flags) <= fields


def test_no_backend_takes_options_it_throws_away() -> None:
    for name in BACKENDS:
        cls = backend_class(name)
        params = inspect.signature(cls.__init__).parameters
        declared = {o.name for o in cls.OPTIONS}
        keywords = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
        assert keywords == declared, name  # every keyword declared, every declaration a keyword
        var = [p for p, v in params.items() if v.kind is inspect.Parameter.VAR_KEYWORD]
        assert var == (["engine_kwargs"] if name == "vllm" else []), name  # vllm passes its own on to vllm.LLM


def test_an_option_of_another_backend_is_an_error(tmp_path, capsys) -> None:
    assert main(["run", "--concurrency", "4", "--dry-run", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("psybench: error: --concurrency: the vllm backend does not take it (its options: --dtype "
                          "(str), --enforce-eager (bool), --max-model-len (int)")
    assert err.count("\n") == 1
    assert main(["run", "--backend", "openai", "--model", "m", "--lora", "/x", "--dry-run",
                 "--out", str(tmp_path / "r")]) == 2
    assert "--lora: the openai backend does not take it (its options: --base-url (str), --concurrency (int)" in \
        capsys.readouterr().err
    with pytest.raises(ConfigError, match="--batch-size: the replay backend does not take it"):
        create_backend("replay", str(tmp_path / "x.jsonl"), batch_size=4)
    with pytest.raises(ConfigError, match="unknown backend 'vlm': choose one of vllm, openai, hf, replay"):
        create_backend("vlm")
