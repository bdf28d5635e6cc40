"""The judge's rubric: a data file per language (rubrics/psy_insight_{lang}.yaml, or --rubric FILE) with the
dimensions and their anchored levels, the ethical-risk categories and the prompt templates. This module
reads and checks it, hashes it (every judgment records the hash) and turns a judged item into chat messages
and a JSON schema for structured output."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from psybench.constants import JUDGE_DIMENSIONS, JUDGE_SCALE
from psybench.errors import ConfigError
from psybench.paths import repo_root

RUBRICS_DIR_ENV = "PSYBENCH_RUBRICS_DIR"
PROMPTS = ("context", "pointwise", "reasoning", "no_reasoning", "pairwise", "repair", "history_roles", "empty_history")
VERDICTS = ("A", "B", "tie")


def rubrics_dir() -> Path:
    env = os.environ.get(RUBRICS_DIR_ENV)
    return Path(env) if env else repo_root() / "rubrics"


def rubric_path(lang: str) -> Path:
    return rubrics_dir() / f"psy_insight_{lang}.yaml"


@dataclass(frozen=True)
class Dimension:
    name: str  # one of constants.JUDGE_DIMENSIONS
    title: str
    question: str
    levels: tuple[str, ...]  # anchors of levels 1..5
    needs_reasoning: bool = False  # judged on the model's stated reasoning; not applicable without it


@dataclass(frozen=True)
class Rubric:
    path: Path
    sha256: str  # of the file's bytes
    name: str
    version: int
    lang: str
    system: str
    dimensions: tuple[Dimension, ...]
    risk_categories: tuple[tuple[str, str], ...]  # (name, description)
    prompts: dict[str, Any]

    @property
    def risk_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.risk_categories)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "lang": self.lang, "path": str(self.path),
                "sha256": self.sha256}


def _fail(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {problem}")


def load_rubric(lang: str, path: str | Path | None = None) -> Rubric:
    """The rubric of `lang` (or the file given); a malformed file is a one-line error naming the field."""
    path = Path(path) if path else rubric_path(lang)
    if not path.is_file():
        raise ConfigError(f"{path}: rubric file not found (--rubric FILE, or rubrics/psy_insight_{lang}.yaml)")
    blob = path.read_bytes()
    try:
        raw = yaml.safe_load(blob.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())[:200]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a rubric is a mapping (name, lang, system, dimensions, risk_categories, prompts)")
    for key in ("name", "lang", "system", "dimensions", "risk_categories", "prompts"):
        if key not in raw:
            raise _fail(path, key, "missing")
    if raw["lang"] != lang:
        raise _fail(path, "lang", f"{raw['lang']!r}, but the judged run is {lang!r}")
    dims = []
    for i, d in enumerate(raw["dimensions"] or ()):
        where = f"dimensions[{i}]"
        if not isinstance(d, dict) or d.get("name") not in JUDGE_DIMENSIONS:
            raise _fail(path, where, f"name must be one of {', '.join(JUDGE_DIMENSIONS)}")
        levels = d.get("levels") or {}
        wanted = range(JUDGE_SCALE[0], JUDGE_SCALE[1] + 1)
        if not isinstance(levels, dict) or sorted(levels) != list(wanted):
            raise _fail(path, f"{where}.levels", f"needs one anchor for each level {JUDGE_SCALE[0]}-{JUDGE_SCALE[1]}")
        dims.append(Dimension(d["name"], str(d.get("title") or d["name"]), str(d.get("question") or ""),
                              tuple(str(levels[k]) for k in wanted), bool(d.get("needs_reasoning", False))))
    if [d.name for d in dims] != list(JUDGE_DIMENSIONS):
        raise _fail(path, "dimensions", f"must list {', '.join(JUDGE_DIMENSIONS)} in this order")
    risks = []
    for i, r in enumerate(raw["risk_categories"] or ()):
        if not isinstance(r, dict) or not str(r.get("name") or "").isidentifier():
            raise _fail(path, f"risk_categories[{i}]", "needs a name (letters, digits, _) and a description")
        risks.append((r["name"], str(r.get("description") or "")))
    if not risks:
        raise _fail(path, "risk_categories", "empty")
    prompts = raw["prompts"]
    missing = [p for p in PROMPTS if not isinstance(prompts, dict) or p not in prompts]
    if missing:
        raise _fail(path, f"prompts.{missing[0]}", "missing")
    return Rubric(path=path, sha256=hashlib.sha256(blob).hexdigest(), name=str(raw["name"]),
                  version=int(raw.get("version") or 1), lang=lang, system=str(raw["system"]).strip(),
                  dimensions=tuple(dims), risk_categories=tuple(risks), prompts=dict(prompts))


# ---- what the judge is asked ---------------------------------------------------------------------------
def _fill(template: str, **values: str) -> str:
    out = template
    for key, value in values.items():  # str.format would trip on the JSON braces of {format}
        out = out.replace("{" + key + "}", value)
    return out


def context_text(rubric: Rubric, background: str, history: tuple[tuple[str, str], ...], omitted: int) -> str:
    roles = rubric.prompts["history_roles"]
    lines = [f"({omitted} earlier turns omitted)"] if omitted else []
    lines += [f"{roles['therapist' if speaker == 'therapist' else 'client']}: {text}" for speaker, text in history]
    return _fill(rubric.prompts["context"], background=background.strip() or "-",
                 history="\n".join(lines) if lines else rubric.prompts["empty_history"])


def _dimension_lines(rubric: Rubric, dims: tuple[Dimension, ...], anchors: bool) -> str:
    blocks = []
    for d in dims:
        block = [f"- {d.name} ({d.title}): {d.question}"]
        if anchors:
            block += [f"    {level}: {text}" for level, text in enumerate(d.levels, JUDGE_SCALE[0])]
        blocks.append("\n".join(block))
    return "\n".join(blocks)


def pointwise_format(rubric: Rubric, with_reasoning: bool) -> dict[str, Any]:
    """The shape of the answer, as the prompt shows it."""
    low, high = JUDGE_SCALE
    shape: dict[str, Any] = {d.name: f"{low}-{high}" for d in rubric.dimensions}
    if not with_reasoning:
        shape["explainability"] = None
    shape["ethical_risk"] = {"present": "true|false", "category": "|".join(rubric.risk_names) + "|null",
                             "span": "the quoted words, or null"}
    shape["rationale"] = "one or two sentences"
    return shape


def pointwise_schema(rubric: Rubric, with_reasoning: bool) -> dict[str, Any]:
    """JSON schema of a pointwise answer (structured output where the backend can enforce it)."""
    low, high = JUDGE_SCALE
    score = {"type": "integer", "minimum": low, "maximum": high}
    props: dict[str, Any] = {d.name: dict(score) for d in rubric.dimensions}
    if not with_reasoning:
        props["explainability"] = {"type": "null"}
    props["ethical_risk"] = {
        "type": "object", "additionalProperties": False, "required": ["present", "category", "span"],
        "properties": {"present": {"type": "boolean"}, "category": {"enum": [*rubric.risk_names, None]},
                       "span": {"type": ["string", "null"], "maxLength": 300}}}
    props["rationale"] = {"type": "string", "maxLength": 400}
    return {"type": "object", "additionalProperties": False, "required": list(props), "properties": props}


def pairwise_schema(rubric: Rubric) -> dict[str, Any]:
    props: dict[str, Any] = {d.name: {"enum": list(VERDICTS)} for d in rubric.dimensions if not d.needs_reasoning}
    props["rationale"] = {"type": "string", "maxLength": 400}
    return {"type": "object", "additionalProperties": False, "required": list(props), "properties": props}


def pointwise_messages(rubric: Rubric, context: str, reply: str, reasoning: str | None) -> tuple[dict[str, str], ...]:
    """`reasoning` None: the task states none, Explainability is not applicable (the schema asks for null)."""
    with_reasoning = reasoning is not None
    dims = rubric.dimensions if with_reasoning else tuple(d for d in rubric.dimensions if not d.needs_reasoning)
    block = _fill(rubric.prompts["reasoning"], reasoning=reasoning.strip() or "-") if with_reasoning \
        else rubric.prompts["no_reasoning"]
    text = _fill(rubric.prompts["pointwise"], context=context, reply=reply.strip() or "-", reasoning=block + "\n",
                 dimensions=_dimension_lines(rubric, dims, anchors=True),
                 risk_categories="\n".join(f"- {n}: {d}" for n, d in rubric.risk_categories),
                 format=json.dumps(pointwise_format(rubric, with_reasoning), ensure_ascii=False))
    return ({"role": "system", "content": rubric.system}, {"role": "user", "content": text})


def pairwise_messages(rubric: Rubric, context: str, reply_a: str, reply_b: str) -> tuple[dict[str, str], ...]:
    """Replies only (no reasoning): Explainability is left out of pairwise verdicts."""
    dims = tuple(d for d in rubric.dimensions if not d.needs_reasoning)
    shape = {d.name: "A|B|tie" for d in dims} | {"rationale": "one or two sentences"}
    text = _fill(rubric.prompts["pairwise"], context=context, reply_a=reply_a.strip() or "-",
                 reply_b=reply_b.strip() or "-", dimensions=_dimension_lines(rubric, dims, anchors=False),
                 format=json.dumps(shape, ensure_ascii=False))
    return ({"role": "system", "content": rubric.system}, {"role": "user", "content": text})


def repair_messages(rubric: Rubric, messages: tuple[dict[str, str], ...], reply: str, problem: str
                    ) -> tuple[dict[str, str], ...]:
    """The conversation asked again: the unreadable answer, then what was wrong with it."""
    return (*messages, {"role": "assistant", "content": reply},
            {"role": "user", "content": _fill(rubric.prompts["repair"], problem=problem)})
