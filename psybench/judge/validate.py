"""`psybench judge validate`: does this judge tell good replies from bad ones? No human labels needed.

On a fixed, seeded set of test turns (JUDGE_VALIDATE_TURNS of the seeded split's dialog samples), the gold
therapist reply is set against
  (a) `other_session`: the therapist reply of another session at the closest relative position,
  (b) `truncated`: the gold reply cut to its first JUDGE_TRUNCATE_WORDS words,
  (c) `generic`: JUDGE_GENERIC_REPLY ("I understand. Can you tell me more?"),
each judged pairwise in both orders (how often the gold reply is preferred; order-swap consistency) and
pointwise (the score separation: gold minus contrast, mean over dimensions); and for the risk flag,
(d) the replies of rubrics/risk_replies_{lang}.jsonl (written for psybench, each with its intended
category) in the contexts of the same turns: recall, category agreement, and the false-positive rate
on the gold replies. A judge whose preference for the gold reply over (a) does not beat chance (its CI
reaches 0.5) is flagged unfit. The summary is kept per judge and rubric, and every later judge result
of that judge carries it."""
from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from psybench.constants import (JUDGE_CHANCE_WARNING, JUDGE_GENERIC_REPLY, JUDGE_TRUNCATE_WORDS, JUDGE_VALIDATE_TURNS)
from psybench.errors import ConfigError
from psybench.jsonl import iter_jsonl
from psybench.judge.engine import Judge, JudgeAnswer, JudgeSpec
from psybench.judge.items import JudgeItem, items_from_samples
from psybench.judge.pairwise import combine, pair_requests, summarise
from psybench.judge.results import ci_entry
from psybench.judge.parse import Judgment
from psybench.judge.pointwise import item_request
from psybench.judge.rubric import Rubric, context_text, load_rubric, rubrics_dir
from psybench.paths import cache_subdir

CONTRASTS = ("other_session", "truncated", "generic")
VALIDATION_SEED = 0


@dataclass(frozen=True)
class RiskReply:
    id: str
    category: str
    reply: str


def risk_replies(lang: str, rubric: Rubric) -> list[RiskReply]:
    path = rubrics_dir() / f"risk_replies_{lang}.jsonl"
    out = []
    for number, row in iter_jsonl(path, error=ConfigError):
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("id", "category", "reply")):
            raise ConfigError(f"{path}:{number}: needs string fields id, category and reply")
        if row["category"] not in rubric.risk_names:
            raise ConfigError(f"{path}:{number}: category {row['category']!r} is not one of the rubric's "
                              f"({', '.join(rubric.risk_names)})")
        out.append(RiskReply(row["id"], row["category"], row["reply"]))
    return out


def truncate(text: str, lang: str) -> str:
    if lang == "zh":
        return text[:JUDGE_TRUNCATE_WORDS * 4]
    return " ".join(text.split()[:JUDGE_TRUNCATE_WORDS])


def gold_replies(lang: str, data_dir: Path | None) -> list[JudgeItem]:
    """Every non-empty gold therapist reply of the seeded split's dialog task, with its context."""
    from psybench.tasks import build_samples

    samples = build_samples("dialog", lang, split="seeded", turns="all", data_dir=data_dir)
    return [i for i in items_from_samples(samples, data_dir) if i.reply.strip()]


def validation_turns(lang: str, data_dir: Path | None, n: int, pool: list[JudgeItem] | None = None) -> list[JudgeItem]:
    """The seeded test turns (gold replies with their context), the same for every judge."""
    items = [i for i in (pool if pool is not None else gold_replies(lang, data_dir)) if i.turn_index > 0]
    rng = random.Random(VALIDATION_SEED)
    return sorted(rng.sample(items, min(n, len(items))), key=lambda i: i.id) if items else []


def _position(item: JudgeItem, lengths: dict[str, int]) -> float:
    return item.turn_index / max(lengths.get(item.dialog_id, 1), 1)


def other_session_replies(turns: list[JudgeItem], lang: str, data_dir: Path | None,
                          pool: list[JudgeItem] | None = None) -> dict[str, str]:
    """For each turn, the gold reply of another session at the closest relative position (seeded choice
    among equally close ones)."""
    from psybench.data import load_sessions

    lengths = {s.dialog_id: len(s.turns) for s in load_sessions(lang, data_dir)}
    pool = pool if pool is not None else gold_replies(lang, data_dir)
    rng = random.Random(VALIDATION_SEED + 1)
    out = {}
    for turn in turns:
        pos = _position(turn, lengths)
        others = sorted((abs(_position(o, lengths) - pos), o.id, o.reply) for o in pool if o.dialog_id != turn.dialog_id)
        best = [o for o in others if o[0] <= others[0][0] + 1e-9][:8] if others else []
        out[turn.id] = rng.choice(best)[2] if best else JUDGE_GENERIC_REPLY[lang]
    return out


def validation_path(fingerprint: str, rubric: Rubric) -> Path:
    digest = hashlib.sha256(f"{fingerprint}|{rubric.sha256}".encode()).hexdigest()[:24]
    return cache_subdir("judgments") / "validation" / f"{digest}.json"


def stored_validation(fingerprint: str, rubric: Rubric) -> dict[str, Any]:
    """The last validate summary of this judge under this rubric, or a note that there is none."""
    path = validation_path(fingerprint, rubric)
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            pass
    return {"status": "not validated", "hint": f"psybench judge validate --judge-model ... --lang {rubric.lang}"}


def validate_judge(spec: JudgeSpec, lang: str, *, data_dir: Path | None = None, limit: int | None = None,
                   rubric_path: Path | None = None, cache: Path | None = None, use_cache: bool = True,
                   structured: bool = True, max_tokens: int | None = None, executor: Any = None) -> dict[str, Any]:
    from psybench.constants import JUDGE_MAX_TOKENS

    rubric = load_rubric(lang, rubric_path)
    n = JUDGE_VALIDATE_TURNS if limit is None else min(limit, JUDGE_VALIDATE_TURNS)
    pool = gold_replies(lang, data_dir)  # built once: the test turns and the other sessions' replies
    turns = validation_turns(lang, data_dir, n, pool)
    if not turns:
        raise ConfigError(f"judge validate: no test turns for {lang}")
    risks = risk_replies(lang, rubric)
    risks = risks[:limit] if limit else risks
    alternatives = {"other_session": other_session_replies(turns, lang, data_dir, pool),
                    "truncated": {t.id: truncate(t.reply, lang) for t in turns},
                    "generic": {t.id: JUDGE_GENERIC_REPLY[lang] for t in turns}}
    requests, point_of, pair_of = [], {}, {}
    for t in turns:
        context = context_text(rubric, t.background, t.history, t.omitted)
        gold = replace(item_request(rubric, t, 0), id=f"validate/gold/{t.id}")
        requests.append(gold)
        point_of[gold.id] = ("gold", t.id)
        for contrast in CONTRASTS:
            alt_item = JudgeItem(t.id, t.task, lang, t.background, t.history, t.omitted, alternatives[contrast][t.id], None)
            alt = replace(item_request(rubric, alt_item, 0), id=f"validate/{contrast}/{t.id}")
            requests.append(alt)
            point_of[alt.id] = (contrast, t.id)
            for req in pair_requests(rubric, context, t.reply, alternatives[contrast][t.id], f"validate/pair/{contrast}/{t.id}"):
                requests.append(req)
                pair_of[req.id] = (contrast, t.id, req.id.rsplit("|", 1)[1])
    for k, risk in enumerate(risks):
        t = turns[k % len(turns)]
        req = replace(item_request(rubric, JudgeItem(risk.id, "validate", lang, t.background, t.history, t.omitted,
                                                     risk.reply, None), 0), id=f"validate/risk/{risk.id}")
        requests.append(req)
        point_of[req.id] = ("risk", risk.id)
    answers: dict[str, JudgeAnswer] = {}
    judge = Judge(spec, rubric, cache_path=cache, use_cache=use_cache, structured=structured,
                  max_tokens=max_tokens or JUDGE_MAX_TOKENS, executor=executor)
    try:
        judge.answer(requests, lambda a: answers.__setitem__(a.request.id, a))
        fingerprint, info, tally = judge.fingerprint, judge.info(), judge.tally
    finally:
        judge.close()
    summary = _summarise(rubric, turns, risks, answers, point_of, pair_of)
    summary.update(judge=info, rubric=rubric.describe(), lang=lang, n_turns=len(turns), limit=limit,
                   counts={"requests": len(requests), "calls": tally.calls, "cache_hits": tally.cache_hits,
                           "retries": tally.retries, "invalid": sum(1 for a in answers.values() if a.value is None)})
    if limit is None:  # a partial look (--limit) is not the judge's validation
        path = validation_path(fingerprint, rubric)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


def _overall(j: Judgment | None) -> float | None:
    if j is None:
        return None
    vals = [v for v in j.scores.values() if v is not None]
    return float(np.mean(vals)) if vals else None


def _summarise(rubric: Rubric, turns: list[JudgeItem], risks: list[RiskReply], answers: dict[str, JudgeAnswer],
               point_of: dict, pair_of: dict) -> dict[str, Any]:
    dims = [d.name for d in rubric.dimensions if not d.needs_reasoning]
    value = {rid: answers[rid].value if rid in answers else None for rid in {**point_of, **pair_of}}
    contrasts = {}
    for contrast in CONTRASTS:
        verdicts = [combine(value.get(f"validate/pair/{contrast}/{t.id}|xy"), value.get(f"validate/pair/{contrast}/{t.id}|yx"))
                    for t in turns]
        pair = summarise(verdicts, dims)
        seps, prefs = [], []
        for t in turns:
            g, a = _overall(value.get(f"validate/gold/{t.id}")), _overall(value.get(f"validate/{contrast}/{t.id}"))
            if g is not None and a is not None:
                seps.append(g - a)
                prefs.append(1.0 if g > a else 0.5 if g == a else 0.0)
        contrasts[contrast] = {"pairwise_preference": pair["preference"], "order_consistency": pair["order_consistency"],
                               "pairwise_invalid": pair["invalid"], "pointwise_preference": ci_entry(np.array(prefs)),
                               "score_separation": ci_entry(np.array(seps))}
    gold_flags = [1.0 if j.risk else 0.0 for t in turns if (j := value.get(f"validate/gold/{t.id}")) is not None]
    risk_hits, category_hits = [], []
    for r in risks:
        j = value.get(f"validate/risk/{r.id}")
        if j is None:
            continue
        risk_hits.append(1.0 if j.risk else 0.0)
        if j.risk:
            category_hits.append(1.0 if j.risk_category == r.category else 0.0)
    risk = {"recall": ci_entry(np.array(risk_hits)), "category_agreement": ci_entry(np.array(category_hits)),
            "false_positive_rate_on_gold": ci_entry(np.array(gold_flags)), "n_risk_replies": len(risks),
            "risk_invalid": len(risks) - len(risk_hits)}
    a = contrasts["other_session"]["pairwise_preference"]
    fit = a["ci_low"] is not None and a["ci_low"] > 0.5
    return {"status": "validated", "fit": fit, "warning": None if fit else JUDGE_CHANCE_WARNING,
            "contrasts": contrasts, "risk": risk}


def format_validation(summary: dict[str, Any]) -> str:
    def cell(e: dict[str, Any]) -> str:
        if e.get("value") is None:
            return "-"
        ci = f" [{e['ci_low']:.2f}, {e['ci_high']:.2f}]" if e.get("ci_low") is not None else ""
        return f"{e['value']:.2f}{ci} (n {e['n']})"

    judge = summary["judge"]
    lines = [f"judge {judge['label']} ({judge['backend']}), rubric {summary['rubric']['sha256'][:12]}, {summary['lang']}, "
             f"{summary['n_turns']} test turns; calls {summary['counts']['calls']}, cache hits "
             f"{summary['counts']['cache_hits']}, invalid answers {summary['counts']['invalid']}",
             f"{'contrast':<15} {'prefers gold (pairwise)':<30} {'order consistency':<28} {'prefers gold (pointwise)':<28} score separation"]
    for name, c in summary["contrasts"].items():
        lines.append(f"{name:<15} {cell(c['pairwise_preference']):<30} {cell(c['order_consistency']):<28} "
                     f"{cell(c['pointwise_preference']):<28} {cell(c['score_separation'])}")
    r = summary["risk"]
    lines.append(f"risk flag: recall {cell(r['recall'])}, category agreement {cell(r['category_agreement'])}, "
                 f"false positives on gold replies {cell(r['false_positive_rate_on_gold'])}")
    if summary.get("warning"):
        lines.append(f"WARNING: judge {judge['label']} is {summary['warning']}")
    return "\n".join(lines)
