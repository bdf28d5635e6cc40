"""Loader and data report on the real Psy-Insight files: PROTOCOL.md's figures, exactly."""
from __future__ import annotations

import json

import pytest

from psybench.cli import main
from psybench.data import data_report, load_sessions, resolve_data_dir
from psybench.data import labels
from psybench.errors import ConfigError, MissingResourceError

EXPECTED = {  # key: (en, zh); PROTOCOL.md's figures where it gives one
    "sessions": (520, 431),
    "turns": (6208, 5776),
    "seeker_turns": (3111, 2865),
    "supporter_turns": (3097, 2911),
    "supporter_turns_with_reasoning": (3089, 197),
    "seeker_turns_with_observation": (3057, 1),
    "sessions_starting_with_therapist": (353, 287),
    "consecutive_same_speaker_pairs": (316, 68),
    "adjacent_duplicate_turns": (34, 0),
    "overlapping_session_pairs": (23, 0),
    "max_shared_turns": (22, 0),
    "sessions_without_topic": (19, 1),
    "sessions_without_psychotherapy": (0, 1),
    "seeker_turns_2_emotions": (236, 208),
    "seeker_turns_5plus_emotions": (32, 21),
    "unknown_with_other_emotions": (49, 53),
}
NORMALISATIONS = {
    "en": {"label_variant:psychotherapy": 40, "placeholder:reasoning": 12, "placeholder:summary": 10,
           "placeholder:turn.observation": 3, "placeholder:turn.reasoning": 2},
    "zh": {"empty_to_none:is_same_qa": 1, "llm_error:guide": 5, "llm_json_unwrapped:guide": 2,
           "llm_refusal:reasoning": 13},
}
ODDITIES = {  # (en, zh)
    "turns_with_speaker_tag": (23, 7), "turns_with_stage_direction": (97, 323), "turns_with_newline": (3, 5),
    "turns_with_u3000": (0, 1), "sessions_mixing_apostrophes": (14, 0),
}


@pytest.fixture(scope="module")
def reports(data_dir):
    return {lang: data_report(lang, data_dir) for lang in ("en", "zh")}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_counts(reports, key):
    assert (reports["en"][key], reports["zh"][key]) == EXPECTED[key]


def test_checksums_and_normalisations(reports):
    for i, lang in enumerate(("en", "zh")):
        r = reports[lang]
        assert r["checksum_ok"] is True
        assert r["normalisations"]["changes"] == NORMALISATIONS[lang]
        assert r["normalisations"]["unknown_labels"] == {}
        assert {k: r["content_oddities"][k] for k in ODDITIES} == {k: v[i] for k, v in ODDITIES.items()}
    assert reports["en"]["normalisations"]["off_role_annotations_ignored"] == {"Supporter.observation": 2}
    assert reports["zh"]["normalisations"]["off_role_annotations_ignored"] == {"Seeker.reasoning": 21}


def test_report_splits(reports):
    assert reports["en"]["splits"]["table5"]["rows"] == 81
    assert reports["en"]["splits"]["table5"]["chunk_rows_as_whole_session"] == 4
    assert list(reports["zh"]["splits"]) == ["seeded"]


def test_label_vocabularies(reports):
    assert (len(labels.EMOTIONS), len(labels.STRATEGIES), len(labels.TOPICS)) == (11, 10, 11)
    for lang in ("en", "zh"):
        lab = reports[lang]["labels"]
        assert set(lab["emotion"]) == set(labels.EMOTIONS)
        assert set(lab["strategy"]) == set(labels.STRATEGIES)
        assert set(lab["topic"]) == set(labels.TOPICS) | {"(none)"}  # PROTOCOL's "12 topics" = 11 + none
        assert all(v > 0 for v in lab["emotion"].values()) and all(v > 0 for v in lab["strategy"].values())
    assert (reports["en"]["labels"]["strategy"]["Question"], reports["zh"]["labels"]["strategy"]["Question"]) \
        == (2038, 1858)
    assert reports["en"]["labels"]["emotion"]["Neutral"] == 1015
    # EN "Cognitive Behaviour Therapy" and CN "Cognitive Behavioral Therapy" are one label
    assert reports["en"]["labels"]["psychotherapy"]["Cognitive Behavioral Therapy"] == 40
    assert reports["zh"]["labels"]["psychotherapy"]["Cognitive Behavioral Therapy"] == 191


def test_canonical_mappers():
    assert labels.canonical_psychotherapy("Cognitive Behaviour Therapy") == "Cognitive Behavioral Therapy"
    assert labels.canonical_psychotherapy(" cognitive behavioral  therapy ") == "Cognitive Behavioral Therapy"
    assert labels.canonical_emotion("guilty") == "Guilty"
    assert labels.canonical_strategy("Role-play") == "Role-play"
    assert labels.canonical_topic("Job Crisis") == "Job Crisis"
    assert labels.canonical_emotion("Joy") is None and labels.canonical_strategy(None) is None


def test_text_stays_byte_exact(data_dir):
    """content, participant and background are the file's bytes; only annotations are normalised."""
    for lang, fname in (("en", "en_data_version7.json"), ("zh", "cn_data_version7.json")):
        raw = json.loads((data_dir / fname).read_bytes())
        sessions = load_sessions(lang, data_dir)
        for item, session in zip(raw, sessions, strict=True):
            assert session.dialog_id == item["dialog_id"] and session.background == item["background"]
            assert [(t.speaker, t.participant, t.content, t.raw_id) for t in session.turns] == \
                [(t["speaker"], t["participant"], t["content"], t["id"]) for t in item["dialog"]]


def test_normalised_fields(data_dir):
    zh = {s.dialog_id: s for s in load_sessions("zh", data_dir)}
    assert zh["000039"].reasoning == "" and zh["000039"].guide == ""  # refusal / JSON error reply
    assert zh["000248"].guide.startswith("作为咨询师") and not zh["000248"].guide.startswith("{")
    assert zh["000001"].is_same_qa is None
    en = {s.dialog_id: s for s in load_sessions("en", data_dir)}
    assert en["000794"].reasoning == "" and en["000432"].psychotherapy == "Cognitive Behavioral Therapy"
    multi = [t for s in en.values() for t in s.turns if len(t.emotions) == 11]
    assert len(multi) == 10 and all(t.emotions == frozenset(labels.EMOTIONS) for t in multi)


def test_cached_per_process(data_dir):
    a, b = load_sessions("en", data_dir), load_sessions("en", data_dir)
    assert a == b and a is not b and a[0] is b[0]


def test_resolve_data_dir(data_dir, tmp_path, monkeypatch):
    assert resolve_data_dir(data_dir) == data_dir
    monkeypatch.setenv("PSYBENCH_DATA_DIR", str(data_dir))
    assert resolve_data_dir(None) == data_dir
    monkeypatch.delenv("PSYBENCH_DATA_DIR")
    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(MissingResourceError, match="pass --data-dir DIR, set PSYBENCH_DATA_DIR, or run "
                                                   "`psybench data fetch`"):
        resolve_data_dir(None)
    with pytest.raises(MissingResourceError, match="does not exist"):
        resolve_data_dir(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="unknown language"):
        load_sessions("fr", data_dir)


def test_cli_check_json(data_dir, capsys):
    assert main(["data", "check", "--json", "--lang", "zh", "--data-dir", str(data_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["zh"] and out["zh"]["turns"] == 5776 and "table5" not in out["zh"]["splits"]


def test_cli_check_table(data_dir, capsys):
    assert main(["data", "check", "--lang", "en", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "6208" in out and "32206c785bf4c1b57d68cbadd2a12337f9178088c188200eac3b5b7972ab582a" in out
