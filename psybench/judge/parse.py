"""Reading a judge's answer. Structured output makes most answers valid JSON, but not every backend can
enforce a schema (hf, a server without `response_format`, a reply file), so the reader is forgiving in
form and strict in content: the first JSON object in the text (code fences, prose around it) or, failing
that, `name: score` lines; every dimension's score must be an integer on the scale and the risk flag must
be readable. Anything else raises Unreadable with the problem, which the judge is shown when asked again."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from psybench.constants import JUDGE_SCALE
from psybench.judge.rubric import VERDICTS, Rubric


class Unreadable(ValueError):
    """The answer could not be read as asked; str(err) names the problem (shown to the judge on retry)."""


@dataclass(frozen=True)
class Judgment:
    scores: dict[str, int | None]  # dimension -> 1..5, None where not applicable (explainability without reasoning)
    risk: bool
    risk_category: str | None
    risk_span: str | None
    rationale: str

    def as_dict(self) -> dict[str, Any]:
        return {"scores": dict(self.scores), "ethical_risk": {"present": self.risk, "category": self.risk_category,
                                                              "span": self.risk_span}, "rationale": self.rationale}


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in the text; failing that, an answer cut inside its trailing free-text field
    (a judge looping in its rationale until the token limit) closed before that field: the scores it
    already gave stand."""
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"\{", text)]
    for n, start in enumerate(starts):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = _cut_before_rationale(text, start) if n == 0 else None
        if isinstance(value, dict):
            return value
    return None


def _cut_before_rationale(text: str, start: int) -> dict[str, Any] | None:
    cut = text.rfind('"rationale"')
    if cut <= start:
        return None
    try:
        value = json.loads(text[start:cut].rstrip().rstrip(",") + "}")
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _score(value: Any, name: str) -> int:
    low, high = JUDGE_SCALE
    if isinstance(value, bool):
        raise Unreadable(f"{name} is {value}, not an integer {low}-{high}")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict) and "score" in value:  # {"helpfulness": {"score": 4, ...}}
        return _score(value["score"], name)
    if not isinstance(value, int) or not low <= value <= high:
        raise Unreadable(f"{name} is {json.dumps(value, ensure_ascii=False)[:40]}, not an integer {low}-{high}")
    return value


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "present", "1", "是", "有"):
            return True
        if word in ("false", "no", "none", "absent", "0", "否", "无"):
            return False
    return None


def _risk(obj: Any, rubric: Rubric) -> tuple[bool, str | None, str | None]:
    if isinstance(obj, dict):
        present = _flag(obj.get("present"))
        if present is None:
            raise Unreadable("ethical_risk.present is not true or false")
        if not present:
            return False, None, None
        category = obj.get("category")
        category = category if category in rubric.risk_names else "other"  # flagged, category unclear
        span = obj.get("span")
        return True, category, span.strip() if isinstance(span, str) and span.strip() else None
    present = _flag(obj)
    if present is None:
        raise Unreadable("no ethical_risk object")
    return present, ("other" if present else None), None


def _from_lines(text: str, rubric: Rubric) -> dict[str, Any]:
    """`helpfulness: 4` / `有用性：4` lines, and `ethical_risk: none|present`."""
    found: dict[str, Any] = {}
    for d in rubric.dimensions:
        names = "|".join(re.escape(n) for n in {d.name, d.title})
        match = re.search(rf"(?:{names})\W{{0,6}}?(\d+)\b", text, re.IGNORECASE)
        if match:
            found[d.name] = int(match.group(1))
    match = re.search(r"ethical[_ ]risk\W{0,6}?(true|false|yes|no|none|present|absent)", text, re.IGNORECASE)
    if match:
        found["ethical_risk"] = match.group(1)
    return found


def parse_pointwise(text: str, rubric: Rubric, with_reasoning: bool) -> Judgment:
    obj = first_json_object(text)
    if obj is None:
        obj = _from_lines(text, rubric)
        if not obj:
            raise Unreadable("no JSON object")
    scores: dict[str, int | None] = {}
    for d in rubric.dimensions:
        if d.needs_reasoning and not with_reasoning:
            scores[d.name] = None  # not applicable, whatever the answer says
            continue
        if d.name not in obj or obj[d.name] is None:
            raise Unreadable(f"no score for {d.name}")
        scores[d.name] = _score(obj[d.name], d.name)
    risk, category, span = _risk(obj.get("ethical_risk"), rubric)
    rationale = obj.get("rationale")
    return Judgment(scores, risk, category, span, rationale.strip() if isinstance(rationale, str) else "")


def _verdict(value: Any, name: str) -> str:
    if isinstance(value, str):
        word = value.strip().strip('"').lower().replace("reply ", "").replace("回复", "").strip()
        if word in ("a", "b"):
            return word.upper()
        if word in ("tie", "equal", "same", "平局", "相同", "一样"):
            return "tie"
    raise Unreadable(f"{name} is {json.dumps(value, ensure_ascii=False)[:40]}, not one of {', '.join(VERDICTS)}")


def parse_pairwise(text: str, rubric: Rubric) -> dict[str, str]:
    """dimension -> "A" | "B" | "tie" (Explainability is not judged pairwise)."""
    obj = first_json_object(text)
    if obj is None:
        raise Unreadable("no JSON object")
    out = {}
    for d in rubric.dimensions:
        if d.needs_reasoning:
            continue
        if d.name not in obj:
            raise Unreadable(f"no verdict for {d.name}")
        out[d.name] = _verdict(obj[d.name], d.name)
    return out
