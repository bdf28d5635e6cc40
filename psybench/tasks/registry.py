"""The task registry: `tasks/*.yaml` -> TaskSpec, validated field by field.

The tasks directory is `paths.repo_root() / "tasks"`, or $PSYBENCH_TASKS_DIR when set. A task file is a
small declarative mapping; every error names the file and the field. Files are re-read when they
change (cache keyed by path, mtime and size), so a per-process cache never serves a stale spec.

Task options: the YAML's `options:` mapping declares them, name -> default, the type taken from the
default (bool, int, float, str); `name: {type: int, default: null}` declares one whose default the
builder decides. Options a builder reads without the YAML naming them are in BUILDER_OPTIONS. A value
given for a run (`--task-option`, build_samples(**options)) is parsed to the declared type by
parse_option_value; an undeclared name is an error (psybench.tasks.check_task_options)."""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from psybench.constants import LANGS
from psybench.errors import ConfigError
from psybench.jsonl import decode_utf8, read_bytes
from psybench.paths import repo_root
from psybench.records import GenerationParams

TASKS_DIR_ENV = "PSYBENCH_TASKS_DIR"
KINDS = ("generation", "classification")
EXTRACTS = ("response", "whole", "labels")
TURNS = ("all", "last")
PROMPT_STYLES = ("paper", "clean")
SPLITS = ("seeded", "table5", "released")
TARGET_FIELDS = ("observation", "reasoning", "response", "labels")
OPTION_TYPES = ("bool", "int", "float", "str")
# Options a builder reads with a default of its own (e.g. per language), so no YAML declares them.
BUILDER_OPTIONS: dict[str, dict[str, str]] = {
    "classification": {"context_turns": "int", "max_chars": "int"},
    "rag": {"retrieval_model": "str"},
}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")
_INT = re.compile(r"[+-]?\d+")
_EXPECTED = {"bool": "a boolean (true/false, 1/0, yes/no)", "int": "an integer", "float": "a number",
             "str": "a string"}


def parse_option_value(value: Any, kind: str) -> Any:
    """`value` (a command-line string such as '5', 'yes', or an already typed value) as `kind`;
    ValueError('expected ...') when it is not one."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value)
    elif kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number
    elif isinstance(value, str):
        return value
    raise ValueError(f"expected {_EXPECTED[kind]}")


def _option_kind(value: Any) -> str | None:
    for kind, python in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if isinstance(value, python):
            return kind
    return None


@dataclass(frozen=True)
class TaskDefaults:
    split: str = "seeded"
    turns: str = "all"
    prompt_style: str = "paper"


@dataclass(frozen=True)
class TaskSpec:
    """One task, as declared in tasks/NAME.yaml."""

    name: str
    description: str
    kind: str  # "generation" | "classification"
    builder: str  # module psybench.tasks.<builder>, with build(spec, sessions, split, options)
    langs: tuple[str, ...]
    extract: str  # "response" | "whole" | "labels"
    defaults: TaskDefaults = TaskDefaults()
    target: tuple[str, ...] = ()  # fields the model must produce, in order (e.g. reasoning, response)
    metrics: tuple[str, ...] = ()
    generation: dict[str, Any] = field(default_factory=dict)  # GenerationParams fields
    options: dict[str, Any] = field(default_factory=dict)  # name -> default, given to the builder
    option_types: dict[str, str] = field(default_factory=dict)  # every known option -> bool|int|float|str
    lang_note: str = ""  # why a language is missing (shown in the error)
    path: Path | None = None
    content_hash: str = ""  # sha256 of the YAML bytes (the run manifest records it)

    def generation_params(self, **overrides: Any) -> GenerationParams:
        values = {**self.generation, **{k: v for k, v in overrides.items() if v is not None}}
        if "stop" in values:
            values["stop"] = tuple(values["stop"])
        return GenerationParams(**values)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "kind": self.kind, "builder": self.builder,
                "langs": list(self.langs), "extract": self.extract,
                "defaults": {"split": self.defaults.split, "turns": self.defaults.turns,
                             "prompt_style": self.defaults.prompt_style},
                "target": list(self.target), "metrics": list(self.metrics), "generation": dict(self.generation),
                "options": dict(self.options), "option_types": dict(self.option_types),
                "content_hash": self.content_hash}

    def describe_options(self) -> str:
        """'name (type, default X), ...' for error messages and listings."""
        parts = []
        for name, kind in sorted(self.option_types.items()):
            default = f", default {self.options[name]!r}" if name in self.options else ""
            parts.append(f"{name} ({kind}{default})")
        return ", ".join(parts) or "none"


def tasks_dir() -> Path:
    env = os.environ.get(TASKS_DIR_ENV)
    return Path(env) if env else repo_root() / "tasks"


_REQUIRED = ("name", "description", "kind", "builder", "langs", "extract")
_OPTIONAL = ("defaults", "target", "metrics", "generation", "options", "lang_note")
_GEN_FIELDS = {f.name: f.type for f in fields(GenerationParams)}


def _fail(path: Path, fieldname: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: field '{fieldname}': {problem}")


def _str(path: Path, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, f"expected a non-empty string, got {value!r}")
    return value


def _choice(path: Path, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(path, key, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _str_list(path: Path, key: str, value: Any, allowed: tuple[str, ...] | None = None) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, key, f"expected a list of strings, got {value!r}")
    if allowed is not None:
        for v in value:
            _choice(path, key, v, allowed)
    return tuple(value)


def _mapping(path: Path, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, key, f"expected a mapping, got {value!r}")
    return value


def _options(path: Path, builder: str, raw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(defaults given to the builder, type of every known option) from the YAML's `options:`."""
    defaults: dict[str, Any] = {}
    types = dict(BUILDER_OPTIONS.get(builder, {}))
    for name, value in _mapping(path, "options", raw).items():
        key = f"options.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            raise _fail(path, key, "an option name must be an identifier")
        if isinstance(value, dict):
            if "type" not in value or set(value) - {"type", "default"}:
                raise _fail(path, key, "expected a default value or {type: bool|int|float|str, default: ...}")
            kind = _choice(path, f"{key}.type", value["type"], OPTION_TYPES)
            if value.get("default") is not None:
                try:
                    defaults[name] = parse_option_value(value["default"], kind)
                except ValueError as err:
                    raise _fail(path, f"{key}.default", f"{err}, got {value['default']!r}") from None
        else:
            kind = _option_kind(value)
            if kind is None:
                raise _fail(path, key, f"default {value!r} has no option type (bool, int, float, str): "
                                       "declare it as {type: ..., default: ...}")
            defaults[name] = value
        types[name] = kind
    return defaults, types


def parse_task_file(path: Path) -> TaskSpec:
    """Read and validate one task file; a ConfigError names the file and the field."""
    blob = read_bytes(path, ConfigError)
    try:  # decoded here so bad bytes name the line and offset (yaml only says "position N")
        data = yaml.safe_load(decode_utf8(blob, path, ConfigError))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of task fields, got {type(data).__name__}")
    for key in data:
        if key not in _REQUIRED + _OPTIONAL:
            raise _fail(path, str(key), f"unknown field (known: {', '.join(_REQUIRED + _OPTIONAL)})")
    for key in _REQUIRED:
        if key not in data:
            raise _fail(path, key, "missing")
    name = _str(path, "name", data["name"])
    if name != path.stem:
        raise _fail(path, "name", f"{name!r} must equal the file name {path.stem!r}")
    builder = _str(path, "builder", data["builder"])
    if not builder.isidentifier() or (builder not in _BUILDERS and
                                      importlib.util.find_spec(f"psybench.tasks.{builder}") is None):
        raise _fail(path, "builder", f"no module psybench.tasks.{builder} and no registered builder {builder!r}")
    langs = _str_list(path, "langs", data["langs"], LANGS)
    if not langs:
        raise _fail(path, "langs", "empty")
    raw_defaults = _mapping(path, "defaults", data.get("defaults", {}))
    for key in raw_defaults:
        if key not in ("split", "turns", "prompt_style"):
            raise _fail(path, f"defaults.{key}", "unknown field (known: split, turns, prompt_style)")
    defaults = TaskDefaults(
        split=_choice(path, "defaults.split", raw_defaults.get("split", "seeded"), SPLITS),
        turns=_choice(path, "defaults.turns", raw_defaults.get("turns", "all"), TURNS),
        prompt_style=_choice(path, "defaults.prompt_style", raw_defaults.get("prompt_style", "paper"),
                             PROMPT_STYLES))
    generation = _mapping(path, "generation", data.get("generation", {}))
    for key, value in generation.items():
        if key not in _GEN_FIELDS:
            raise _fail(path, f"generation.{key}", f"unknown field (known: {', '.join(_GEN_FIELDS)})")
        ok = {"max_tokens": isinstance(value, int) and not isinstance(value, bool) and value > 0,
              "temperature": isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0,
              "top_p": isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 1,
              "seed": value is None or (isinstance(value, int) and not isinstance(value, bool)),
              "stop": isinstance(value, list) and all(isinstance(v, str) for v in value)}[key]
        if not ok:
            raise _fail(path, f"generation.{key}", f"bad value {value!r}")
    lang_note = data.get("lang_note", "")
    if not isinstance(lang_note, str):
        raise _fail(path, "lang_note", f"expected a string, got {lang_note!r}")
    options, option_types = _options(path, builder, data.get("options", {}))
    kind = _choice(path, "kind", data["kind"], KINDS)
    metrics = _str_list(path, "metrics", data.get("metrics", []))
    _check_metrics(path, kind, metrics)
    return TaskSpec(
        name=name, description=_str(path, "description", data["description"]).strip(),
        kind=kind, builder=builder, langs=langs,
        extract=_choice(path, "extract", data["extract"], EXTRACTS), defaults=defaults,
        target=_str_list(path, "target", data.get("target", []), TARGET_FIELDS),
        metrics=metrics, generation=dict(generation), options=options, option_types=option_types,
        lang_note=lang_note.strip(), path=path, content_hash=hashlib.sha256(blob).hexdigest())


_BUILDERS: dict[str, Any] = {}  # name -> an object with build(); besides the modules psybench.tasks.<name>


def register_builder(name: str, builder: Any) -> None:
    """Make `builder` (anything with `build(spec, sessions, split, options)`, see psybench.tasks) available
    to task files as `builder: name` (a plugin's or a test's builder)."""
    if not name.isidentifier() or not callable(getattr(builder, "build", None)):
        raise ConfigError(f"builder {name!r}: needs an identifier name and a build() function")
    _BUILDERS[name] = builder


def unregister_builder(name: str) -> None:
    _BUILDERS.pop(name, None)


def builder_of(spec: TaskSpec) -> Any:
    """The registered builder, else the module psybench.tasks.<builder>."""
    if spec.builder in _BUILDERS:
        return _BUILDERS[spec.builder]
    return importlib.import_module(f"psybench.tasks.{spec.builder}")


def _check_metrics(path: Path, kind: str, metrics: tuple[str, ...]) -> None:
    """A generation task names registered metrics (what its runs score); a classification task names
    the classification metrics (computed together, as one block)."""
    if kind == "classification":
        from psybench.constants import CLASSIFICATION_METRICS

        known = CLASSIFICATION_METRICS
    else:
        from psybench.metrics.registry import list_metrics

        known = tuple(m.name for m in list_metrics())
    for name in metrics:
        if name not in known:
            raise _fail(path, "metrics", f"unknown metric {name!r} (known: {', '.join(sorted(known))})")


_CACHE: dict[tuple, TaskSpec] = {}  # per process: (path, mtime_ns, size) -> spec


def load_specs(directory: Path | None = None) -> dict[str, TaskSpec]:
    """Every task of the directory, by name, sorted by name."""
    directory = directory or tasks_dir()
    if not directory.is_dir():
        raise ConfigError(f"tasks directory {directory} does not exist (set ${TASKS_DIR_ENV})")
    specs: dict[str, TaskSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        spec = _CACHE.get(key)
        if spec is None:
            spec = _CACHE[key] = parse_task_file(path)
        specs[spec.name] = spec
    return specs


def list_tasks() -> list[TaskSpec]:
    return list(load_specs().values())


def get_task(name: str) -> TaskSpec:
    specs = load_specs()
    if name not in specs:
        raise ConfigError(f"unknown task {name!r} (known: {', '.join(specs) or 'none'}; "
                          f"task files in {tasks_dir()})")
    return specs[name]
