"""Paper-mode extraction, row by row as the authors' scripts did it (PROTOCOL.md, docs/EXTRACTION.md), the
paper-mode scorer's dropping, truncation as a flag, and the replay files in tests/replays/ that
reproduce each defect of issue 14 (parts 2-4) on real samples."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from psybench.extract import PAPER_MARKER_SEARCH, extract, paper_search
from psybench.metrics._records import is_truncated, paper_kept, validate_records
from psybench.records import Output, Sample

REPLAYS = Path(__file__).parent / "replays"
DIALOG_TARGET = "Therapist: fine"
REASONING_TARGET = "Reasoning: r\n Therapist: t"
OBSERVATION_TARGET = "Observation: o\n Reasoning: r\n Therapist: t"


def _sample(task: str, target: str, lang: str = "en", subtask: str | None = None) -> Sample:
    meta = {"subtask": subtask} if subtask else {}
    return Sample(id=f"{task}/000001/3", task=task, lang=lang, kind="generation", messages=(), target=target,
                  reference=target, extract="response", meta=meta)


DIALOG = _sample("dialog", DIALOG_TARGET)
REASONING = _sample("reasoning", REASONING_TARGET)
OBSERVATION = _sample("observation", OBSERVATION_TARGET)
DIALOG_ZH = _sample("dialog", "治疗师: 好的", lang="zh")
TWO_REPLIES = "Reasoning: r1\n Therapist: t1\n Reasoning: r2\n Therapist: t2"


def _paper(text: str, sample: Sample, finish_reason: str = "stop") -> tuple[str, str]:
    p = extract(text, finish_reason, sample, "paper")
    return p.response, p.status


def test_row_rule_per_task_and_mix_subtask():
    rows = {
        "dialog": _sample("dialog", DIALOG_TARGET), "rag_dialog": _sample("rag_dialog", DIALOG_TARGET),
        "rag_explained": _sample("rag_explained", DIALOG_TARGET), "reasoning": REASONING,
        "observation": OBSERVATION, "mix.dialog": _sample("mix", DIALOG_TARGET, subtask="dialog"),
        "mix.reasoning": _sample("mix", REASONING_TARGET, subtask="reasoning"),
        "mix.observation": _sample("mix", OBSERVATION_TARGET, subtask="observation"),
        "custom plain": _sample("my_dialog", DIALOG_TARGET), "custom sections": _sample("my_cot", REASONING_TARGET),
    }
    assert {name: paper_search(s) for name, s in rows.items()} == {
        "dialog": "first", "rag_dialog": "first", "rag_explained": "first", "reasoning": "last",
        "observation": "last", "mix.dialog": "first", "mix.reasoning": "last", "mix.observation": "last",
        "custom plain": "first", "custom sections": "last"}
    assert sorted(PAPER_MARKER_SEARCH) == ["dialog", "observation", "rag_dialog", "rag_explained", "reasoning"]


def test_last_turn_rows_cut_at_the_first_marker():
    assert _paper(TWO_REPLIES, DIALOG) == ("Therapist: t1\n Reasoning: r2\n Therapist: t2", "ok")
    assert _paper(TWO_REPLIES, _sample("mix", DIALOG_TARGET, subtask="dialog"))[0].startswith("Therapist: t1")


def test_every_turn_rows_cut_at_the_last_marker():
    assert _paper(TWO_REPLIES, REASONING) == ("Therapist: t2", "ok")
    text = "Observation: o\n Reasoning: r\n Therapist: t1\n Observation: o2\n Reasoning: r2\n Therapist: t2"
    assert _paper(text, OBSERVATION) == ("Therapist: t2", "ok")
    assert _paper(text, _sample("mix", OBSERVATION_TARGET, subtask="observation")) == ("Therapist: t2", "ok")


def test_without_the_colon_the_bare_name_is_searched():
    assert _paper("Sure.\nTherapist：t", DIALOG) == ("Therapist：t", "ok")
    assert _paper("Therapist : t", DIALOG) == ("Therapist : t", "ok")
    assert _paper("**Therapist**: Bold", DIALOG) == ("Therapist**: Bold", "ok")
    # rfind of the bare name: the last one, even inside the reasoning's prose
    assert _paper("Reasoning: the Therapist waits.\n Therapist：Right.", REASONING) == ("Therapist：Right.", "ok")
    assert _paper("Therapist：a\nTherapist b", REASONING) == ("Therapist b", "ok")


def test_the_colon_form_wins_over_a_later_bare_name():
    assert _paper("Therapist: t1\nThe Therapist smiles.", REASONING) == ("Therapist: t1\nThe Therapist smiles.", "ok")
    assert _paper("The Therapist smiles.\nTherapist: t1", DIALOG) == ("Therapist: t1", "ok")


def test_response_runs_to_the_first_eos_or_the_end():
    assert _paper("Therapist: That's right.</s>\nClient: ok", DIALOG) == ("Therapist: That's right.", "ok")
    assert _paper("Therapist: no end token", REASONING) == ("Therapist: no end token", "ok")
    # end = out.find("</s>") from the start: an EOS before the marker leaves out[beg:end] == "" (scored)
    assert _paper("</s> Therapist: late", DIALOG) == ("", "ok")


def test_no_marker_and_empty_outputs_are_dropped_statuses():
    assert _paper("therapist: lower case", DIALOG) == ("", "no_marker")
    assert _paper("I hear you.", REASONING) == ("", "no_marker")
    assert _paper("", DIALOG) == ("", "empty")
    assert _paper(" \n ", REASONING) == ("", "empty")
    assert _paper("<think>Therapist: plan", DIALOG, "length") == ("", "empty")


def test_chinese_paper_mode_looks_for_the_chinese_marker():
    assert _paper("好的。治疗师: 你好", DIALOG_ZH) == ("治疗师: 你好", "ok")
    assert _paper("治疗师：你好", DIALOG_ZH) == ("治疗师：你好", "ok")
    assert _paper("治疗师：甲\n来访者: 乙\n治疗师: 丙", DIALOG_ZH) == ("治疗师：甲\n来访者: 乙\n治疗师: 丙", "ok")
    assert _paper("嗯。治疗师 你好", DIALOG_ZH) == ("治疗师 你好", "ok")  # no colon: the bare name
    assert _paper("Therapist: hello", DIALOG_ZH) == ("", "no_marker")
    assert _paper("咨询师：你好", DIALOG_ZH) == ("", "no_marker")


def test_truncation_is_a_flag_in_paper_mode_too():
    p = extract("Therapist: I was going to", "length", DIALOG, "paper")
    assert (p.response, p.status, p.truncated) == ("Therapist: I was going to", "ok", True)
    q = extract("I was going", "length", DIALOG, "paper")
    assert (q.response, q.status, q.truncated) == ("", "no_marker", True)


def test_paper_scorer_drops_no_marker_and_empty_and_reads_old_files():
    new = [{"paper_status": "ok", "paper_prediction": "Therapist: a"}, {"paper_status": "no_marker"},
           {"paper_status": "empty", "paper_prediction": ""}, {"prediction": "x"}]
    assert [paper_kept(r) for r in new] == [True, False, False, True]
    # before truncation was a flag: "truncated" was a paper status, with "" when nothing was visible
    old = [{"paper_status": "truncated", "paper_prediction": "Therapist: cut", "prediction": "cut"},
           {"paper_status": "truncated", "paper_prediction": "", "prediction": ""}]
    assert [paper_kept(r) for r in old] == [True, False]
    flags = [{"truncated": True}, {"truncated": False, "finish_reason": "length"}, {"finish_reason": "length"},
             {"status": "truncated"}, {"finish_reason": "stop", "status": "ok"}]
    assert [is_truncated(r) for r in flags] == [True, False, True, True, False]


def test_old_predictions_without_truncated_still_validate_and_bad_values_fail():
    base = {"id": "a", "prediction": "hi", "reference": "Therapist: hi", "paper_status": "truncated"}
    validate_records([dict(base)], "en")
    from psybench.errors import PredictionsError
    with pytest.raises(PredictionsError, match=r"^records:1: field 'truncated' must be true, false or null$"):
        validate_records([dict(base, truncated="yes")], "en")


# ---- the replay files: real samples, the runner's predictions.jsonl record ---------------------------

def _replayed(name: str, task: str, lang: str, split: str, data_dir: Path) -> list[dict]:
    from psybench.runner import prediction_record
    from psybench.tasks import build_samples

    rows = [json.loads(line) for line in (REPLAYS / name).read_text(encoding="utf-8").splitlines()]
    samples = {s.id: s for s in build_samples(task, lang, split=split, data_dir=data_dir, limit=len(rows))}
    assert sorted(samples) == sorted(r["id"] for r in rows)
    return [prediction_record(samples[r["id"]], Output(r["id"], r["prediction"], r.get("finish_reason", "stop")))
            for r in rows]


def test_reasoning_replay_paper_mode_follows_the_authors(data_dir):
    records = {r["id"]: r for r in _replayed("reasoning_table5_en.jsonl", "reasoning", "en", "table5", data_dir)}
    statuses = Counter(r["paper_status"] for r in records.values())
    assert statuses == {"ok": 12, "empty": 2, "no_marker": 2}  # was ok 7, truncated 1, no_marker 6, empty 2
    assert sum(paper_kept(r) for r in records.values()) == 12  # paper N, was 10 (2 of them empty outputs)
    assert sum(r["truncated"] for r in records.values()) == 2
    paper = {k.split("/", 1)[1]: r["paper_prediction"] for k, r in records.items()}
    assert paper["000876/2"] == "Therapist: What would be the first sign that the miracle happened?"  # rfind
    assert paper["000876/4"] == "Therapist：So, suppose that happened, how would you be different toward them then?"
    assert paper["000876/6"] == "Therapist : Not so irritable, what else?"
    assert paper["000876/8"] == "Therapist**: What would you be doing instead?"
    assert paper["000936/1"] == "Therapist: Before you reach a point of having to react."
    assert paper["000936/3"] == "Therapist: That\u2019s right."  # cut at </s>
    assert paper["000936/7"] == "Therapist：Right."
    assert [records[f"reasoning/{k}"]["paper_status"] for k in ("000876/10", "000876/12", "000876/14", "000871/2")] \
        == ["empty", "empty", "no_marker", "no_marker"]
    corrected = Counter(r["status"] for r in records.values())
    assert corrected == {"ok": 10, "repeated": 2, "empty": 2, "no_marker": 2}
    r2 = records["reasoning/000876/2"]
    assert (r2["prediction"], r2["reasoning"]) == ("What would you notice first?", "Guide her to an observable change.")


def test_manifest_counts_truncated_beside_the_statuses(data_dir, tmp_path):
    from psybench.runner import _record_generation_counts

    records = _replayed("reasoning_table5_en.jsonl", "reasoning", "en", "table5", data_dir)
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    manifest: dict = {"counts": {}}
    _record_generation_counts(manifest, path)
    counts = manifest["counts"]
    assert (counts["predictions"], counts["truncated"]) == (16, 2)
    assert counts["paper_status"] == {"ok": 12, "empty": 2, "no_marker": 2}


def test_chinese_replay_keeps_every_marked_reply(data_dir):
    records = _replayed("dialog_zh.jsonl", "dialog", "zh", "seeded", data_dir)
    assert [r["paper_status"] for r in records] == ["ok"] * 8  # was 0 of 8
    assert records[1]["paper_prediction"] == "治疗师：你希望回到多久以前的过去？你希望遇见多小的自己？"
    assert records[6]["paper_prediction"] == "治疗师: 你在他们房间里的时候有什么感觉？\n来访者: 我很累。\n治疗师: 我明白。"
    assert (records[6]["prediction"], records[6]["status"]) == ("你在他们房间里的时候有什么感觉？", "repeated")


@pytest.mark.slow
def test_reasoning_replay_paper_scores(data_dir):
    """Paper-mode n-gram scores of the reasoning replay (WordNet: slow). Before issue 14 the same file
    scored N 10: BLEU-1 0.4225, BLEU-3 0.3829, METEOR 0.4331, ROUGE-L 0.5280, Distinct-2 0.0807."""
    from psybench.metrics import MetricSettings, score_records

    records = _replayed("reasoning_table5_en.jsonl", "reasoning", "en", "table5", data_dir)
    settings = MetricSettings(modes=("paper",), bertscore=False, bootstrap_resamples=0, workers=0)
    _, results = score_records(records, "en", settings)
    task = results["reasoning"]
    assert (task["n"], task["n_dropped"], task["truncated"]) == (16, 4, 2)
    values = {k: round(v["value"], 4) for k, v in task["metrics"].items()}
    assert values == {
        "paper.bleu1_sentence_cumulative": 0.7375, "paper.bleu3_sentence_cumulative": 0.6333,
        "paper.distinct1_corpus_div_n": 0.0478, "paper.distinct2_corpus_div_n": 0.0672,
        "paper.meteor_swapped_jieba": 0.752, "paper.rougeL_f_default_tokenizer": 0.8361}
    assert {v["n"] for v in task["metrics"].values()} == {12}
