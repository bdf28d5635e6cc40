"""Canonical label vocabularies of Psy-Insight v7, one per label kind, built by inspecting both
release files. `canonical_*()` maps a raw value (case and surrounding space ignored, known EN/CN
spelling variants folded) to its canonical name, and returns None for anything else: unknown values
are never guessed; the loader keeps them as written and counts them (data report).
`label_names()` lists the names a text may use for a label (aliases, Chinese names) and
`labels_named_in()` finds them in a text: the classification answer parser (psybench/extract.py,
docs/EXTRACTION.md) and the task builders use them."""
from __future__ import annotations

import functools
import re
import unicodedata

EMOTIONS: tuple[str, ...] = (
    "Neutral", "Happiness", "Anxiety", "Anger", "Sadness", "Depression", "Fear", "Guilty", "Shame",
    "Others", "Unknown",
)
STRATEGIES: tuple[str, ...] = (
    "Question", "Reflection of Feelings", "Restatement or Paraphrasing", "Affirmation and Reassurance",
    "Providing Suggestions", "Information", "Self-disclosure", "Role-play", "Others", "Unknown",
)
TOPICS: tuple[str, ...] = (
    "Ongoing Depression", "Partner Relationship Issues", "Child-Parent Relationship Issues",
    "Appearance Anxiety", "Academic Pressure", "Job Crisis", "Substance Abuse", "School Bullying",
    "Friend Problems", "Sleep Problems", "Procrastination",
)  # 11 names; PROTOCOL.md's "12 topics" counts the empty value too (EN 19 sessions, CN 1 have none)
PSYCHOTHERAPIES: tuple[str, ...] = (
    "Acceptance Commitment Therapy", "Adlerian Therapy", "Client-Centered Therapy",
    "Cognitive Behavioral Therapy", "Existential Therapy", "Family Therapy", "Feminist Therapy",
    "Gestalt Therapy", "Marriage and Family Systems Therapy", "Multicultural Integration Therapy",
    "Postmodern Therapy", "Psychoanalytic Therapy", "Psychodynamic Therapy with Infants and Parents",
    "Rational Emotive Behavior Therapy", "Reality Therapy", "Solution-Focused Brief Therapy", "Unknown",
)
# Spelling variants seen in the release -> canonical name (EN writes the British form).
_PSYCHOTHERAPY_VARIANTS = {
    "cognitive behaviour therapy": "Cognitive Behavioral Therapy",
}


# Other names a model may answer with, per canonical label (the classification parser reads them;
# docs/EXTRACTION.md). English: the spelling variants, abbreviations and adjective/noun forms the
# English data itself writes ("Cognitive Behaviour Therapy" is its gold value for 40 sessions; its
# texts say "sad", "anxious", "CBT", "SFBT" ...). An all-capital alias is an abbreviation and matches
# case-sensitively ("ACT" but never "act").
LABEL_ALIASES: dict[str, tuple[str, ...]] = {
    "Happiness": ("happy",), "Anxiety": ("anxious",), "Anger": ("angry",), "Sadness": ("sad",),
    "Depression": ("depressed",), "Fear": ("fearful", "afraid", "scared"), "Guilty": ("guilt",),
    "Shame": ("ashamed",),
    "Question": ("questions", "questioning"),
    "Reflection of Feelings": ("reflection of feeling", "reflecting feelings", "reflection"),
    "Restatement or Paraphrasing": ("restatement", "paraphrasing", "paraphrase"),
    "Affirmation and Reassurance": ("affirmation", "reassurance"),
    "Providing Suggestions": ("providing suggestion", "suggestions", "suggestion"),
    "Role-play": ("roleplay", "role playing"),
    "Child-Parent Relationship Issues": ("Parent-Child Relationship Issues",),
    "Cognitive Behavioral Therapy": ("Cognitive Behaviour Therapy", "Cognitive Behavioural Therapy", "CBT"),
    "Client-Centered Therapy": ("Client-Centred Therapy", "Person-Centered Therapy", "Person-Centred Therapy"),
    "Acceptance Commitment Therapy": ("Acceptance and Commitment Therapy", "ACT"),
    "Rational Emotive Behavior Therapy": ("Rational Emotive Behaviour Therapy", "REBT"),
    "Solution-Focused Brief Therapy": ("SFBT",),
}


def _therapy(*stems: str) -> tuple[str, ...]:
    return tuple(stem + suffix for stem in stems for suffix in ("疗法", "治疗"))


# Chinese names of every label. The Chinese release stores its labels under the English names, so these
# are the usual Chinese terms, in the forms its own texts use where they name them (焦虑, 伤心, 认知行为疗法,
# 焦点解决, 角色扮演, 自我暴露 ...). Matched as substrings (Chinese has no word boundaries); the first name
# of each tuple is the preferred one.
ZH_LABEL_NAMES: dict[str, tuple[str, ...]] = {
    "Neutral": ("中性", "平静"), "Happiness": ("快乐", "开心", "高兴", "幸福", "喜悦"), "Anxiety": ("焦虑",),
    "Anger": ("愤怒", "生气"), "Sadness": ("悲伤", "难过", "伤心"), "Depression": ("抑郁",),
    "Fear": ("恐惧", "害怕"), "Guilty": ("内疚", "愧疚"), "Shame": ("羞耻", "羞愧"), "Others": ("其他",),
    "Unknown": ("未知",),
    "Question": ("提问", "询问"), "Reflection of Feelings": ("情感反映", "情感反应", "情绪反映"),
    "Restatement or Paraphrasing": ("复述", "重述", "释义"),
    "Affirmation and Reassurance": ("肯定与安慰", "肯定和安慰", "肯定与保证", "肯定和保证", "安慰"),
    "Providing Suggestions": ("提供建议", "建议"), "Information": ("提供信息", "信息"),
    "Self-disclosure": ("自我表露", "自我暴露", "自我披露"), "Role-play": ("角色扮演",),
    "Ongoing Depression": ("持续抑郁", "长期抑郁"), "Partner Relationship Issues": ("伴侣关系",),
    "Child-Parent Relationship Issues": ("亲子关系",), "Appearance Anxiety": ("容貌焦虑", "外貌焦虑"),
    "Academic Pressure": ("学业压力", "学习压力"), "Job Crisis": ("职业危机", "工作危机"),
    "Substance Abuse": ("物质滥用", "药物滥用"), "School Bullying": ("校园霸凌", "校园欺凌"),
    "Friend Problems": ("朋友问题", "友谊问题"), "Sleep Problems": ("睡眠问题", "失眠"),
    "Procrastination": ("拖延",),
    "Acceptance Commitment Therapy": _therapy("接纳承诺", "接纳与承诺"),
    "Adlerian Therapy": _therapy("阿德勒"),
    "Client-Centered Therapy": _therapy("来访者中心", "以来访者为中心", "以人为中心"),
    "Cognitive Behavioral Therapy": _therapy("认知行为"), "Existential Therapy": _therapy("存在主义"),
    "Family Therapy": _therapy("家庭"), "Feminist Therapy": _therapy("女性主义"),
    "Gestalt Therapy": _therapy("格式塔", "完形"),
    "Marriage and Family Systems Therapy": _therapy("婚姻家庭系统", "婚姻与家庭系统"),
    "Multicultural Integration Therapy": _therapy("多元文化整合"), "Postmodern Therapy": _therapy("后现代"),
    "Psychoanalytic Therapy": _therapy("精神分析"),
    "Psychodynamic Therapy with Infants and Parents": _therapy("婴儿与父母心理动力", "婴幼儿与父母心理动力"),
    "Rational Emotive Behavior Therapy": _therapy("理性情绪行为"), "Reality Therapy": _therapy("现实"),
    "Solution-Focused Brief Therapy": _therapy("焦点解决短期", "焦点解决短程", "焦点解决"),
}


def label_names(choices: tuple[str, ...]) -> dict[str, str]:
    """Every name that stands for one of `choices` (the choice itself, its English aliases and its
    Chinese names) -> that choice."""
    names: dict[str, str] = {}
    for choice in choices:
        for name in (choice, *LABEL_ALIASES.get(choice, ()), *ZH_LABEL_NAMES.get(choice, ())):
            names.setdefault(name, choice)
    return names


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_NEGATIONS_EN = frozenset({"no", "not", "non", "nor", "never", "without"})
_NEGATIONS_ZH = ("不是", "没有", "不", "没", "无", "非")


def _lower_same_length(text: str) -> str:
    # str.lower can lengthen a character ("İ"); keep offsets aligned with the case-sensitive copy
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _words(text: str) -> str:
    """NFKC, punctuation and underscores -> single spaces, padded with one space on each side."""
    return " " + re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", text)).strip() + " "


@functools.lru_cache(maxsize=64)
def _needles(choices: tuple[str, ...]) -> tuple[tuple[str, str, bool], ...]:
    """(needle, label, case-sensitive) for every name of `choices`, longest first."""
    out = []
    for name, label in label_names(choices).items():
        norm = _words(name)
        if not norm.strip():
            continue
        if _CJK.search(name):  # no word boundaries in Chinese: a substring
            out.append((norm.strip(), label, False))
        elif name.isupper() and name.isascii() and len(name) > 1:  # an abbreviation: "ACT", never "act"
            out.append((norm, label, True))
        else:
            out.append((_lower_same_length(norm), label, False))
    return tuple(sorted(out, key=lambda x: -len(x[0].strip())))


def _negated(haystack: str, at: int) -> bool:
    before = haystack[:at].rstrip()
    return before.rsplit(" ", 1)[-1] in _NEGATIONS_EN or before.endswith(_NEGATIONS_ZH)


def labels_named_in(text: str, choices: tuple[str, ...]) -> tuple[str, ...]:
    """The labels of `choices` that `text` names (label_names: the name, its aliases, its Chinese
    names), sorted; () when none. Case and punctuation are ignored and names match as whole words
    (Chinese: as substrings; all-capital abbreviations: case-sensitively); longer names first, each
    stretch of text naming one label; a name right after a negation ("no", "not", 不, 没有 ...) is not
    counted. Used by the answer parser (psybench/extract.py) and the task builders."""
    case_kept = _words(text)
    haystack = _lower_same_length(case_kept)
    found = set()
    for needle, label, case_sensitive in _needles(tuple(choices)):
        start = 0
        while (at := (case_kept if case_sensitive else haystack).find(needle, start)) >= 0:
            end = at + len(needle)
            inner = (at + 1, end - 1) if needle.startswith(" ") else (at, end)  # keep word-boundary spaces
            if not _negated(haystack, inner[0]):  # "no sadness", "不焦虑"
                found.add(label)
            blank = " " * (inner[1] - inner[0])  # a matched name is used once ("Providing Suggestions")
            case_kept = case_kept[:inner[0]] + blank + case_kept[inner[1]:]
            haystack = haystack[:inner[0]] + blank + haystack[inner[1]:]
            start = inner[1]
    return tuple(sorted(found))


def _fold(vocab: tuple[str, ...], variants: dict[str, str] | None = None) -> dict[str, str]:
    table = {name.casefold(): name for name in vocab}
    table.update(variants or {})
    return table


_EMOTION_TABLE = _fold(EMOTIONS)
_STRATEGY_TABLE = _fold(STRATEGIES)
_TOPIC_TABLE = _fold(TOPICS)
_PSYCHOTHERAPY_TABLE = _fold(PSYCHOTHERAPIES, _PSYCHOTHERAPY_VARIANTS)


def _lookup(table: dict[str, str], raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    return table.get(" ".join(raw.split()).casefold())


def canonical_emotion(raw: object) -> str | None:
    return _lookup(_EMOTION_TABLE, raw)


def canonical_strategy(raw: object) -> str | None:
    return _lookup(_STRATEGY_TABLE, raw)


def canonical_topic(raw: object) -> str | None:
    return _lookup(_TOPIC_TABLE, raw)


def canonical_psychotherapy(raw: object) -> str | None:
    return _lookup(_PSYCHOTHERAPY_TABLE, raw)
