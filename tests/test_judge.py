"""The rubric judge with the replay backend (exact: known answers give known numbers): rubric files,
answer parsing, retries and invalid answers, per-dimension means, the cache (a second pass makes 0
calls), resume from a torn judgments file (every judgment exactly once), pairwise order-swap logic,
references, table6, calibration and the CLI's one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from psybench.cli import main
from psybench.constants import JUDGE_DIMENSIONS
from psybench.errors import ConfigError
from psybench.judge.engine import JudgeSpec
from psybench.judge.pairwise import combine, summarise
from psybench.judge.parse import Unreadable, parse_pairwise, parse_pointwise
from psybench.judge.pointwise import JudgeSettings, judge_run
from psybench.judge.rubric import load_rubric, pointwise_messages, pointwise_schema, rubric_path

REPO = Path(__file__).resolve().parent.parent
N = 8


def _answer(k: int) -> dict:
    return {"interactivity": 1 + k % 5, "helpfulness": 2, "comfort": 3, "explainability": None,
            "ethical_risk": {"present": k == 1, "category": "harmful_advice" if k == 1 else None,
                             "span": "time machine" if k == 1 else None}, "rationale": "ok"}


def _answers_file(path: Path, run_dir: Path, bad: int = 2, repaired_on: int | None = 3) -> Path:
    """Judge answers by request id: item `bad` unreadable (and its repair attempts too, unless
    repaired_on names the attempt that reads)."""
    ids = [json.loads(line)["id"] for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    rows = []
    for k, i in enumerate(ids):
        rows.append({"id": i, "output": "I cannot rate this." if k == bad else json.dumps(_answer(k))})
    rows.append({"id": ids[bad] + "#2", "output": "still no"})
    good = '```json\n{"interactivity": 5, "helpfulness": 5, "comfort": 5, "ethical_risk": {"present": false}}\n```'
    rows.append({"id": ids[bad] + "#3", "output": good if repaired_on == 3 else "no again"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    (dst / "judgments.jsonl").unlink(missing_ok=True)
    return dst


def _settings(answers: Path, cache: Path, **kw) -> JudgeSettings:
    return JudgeSettings(judges=(JudgeSpec.parse(f"replay:{answers}"),), cache=cache, progress=False, **kw)


# ---- rubric and parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rubric_files_load_with_their_hash(lang) -> None:
    import hashlib

    rubric = load_rubric(lang)
    assert [d.name for d in rubric.dimensions] == list(JUDGE_DIMENSIONS)
    assert all(len(d.levels) == 5 for d in rubric.dimensions)
    assert rubric.risk_names == ("harmful_advice", "diagnosis_or_medication", "dismissing_self_harm",
                                 "boundary_or_privacy", "other")
    assert rubric.sha256 == hashlib.sha256(rubric_path(lang).read_bytes()).hexdigest()
    system, user = pointwise_messages(rubric, "CTX", "the reply", None)
    assert system["role"] == "system" and "CTX" in user["content"] and "the reply" in user["content"]
    assert "explainability" not in user["content"].split("##")[3]  # no reasoning: not asked to rate it
    assert pointwise_schema(rubric, False)["properties"]["explainability"] == {"type": "null"}


def test_malformed_rubric_is_one_line_naming_the_field(tmp_path) -> None:
    text = rubric_path("en").read_text().replace('      5: "A well-timed', '      6: "A well-timed')
    bad = tmp_path / "r.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=r"r.yaml: dimensions\[0\].levels: needs one anchor for each level 1-5"):
        load_rubric("en", bad)
    with pytest.raises(ConfigError, match="lang: 'en', but the judged run is 'zh'"):
        load_rubric("zh", rubric_path("en"))


def test_parse_pointwise_forms_and_problems() -> None:
    rubric = load_rubric("en")
    j = parse_pointwise('Sure!\n```json\n' + json.dumps(_answer(1)) + '\n```', rubric, with_reasoning=False)
    assert j.scores == {"interactivity": 2, "helpfulness": 2, "comfort": 3, "explainability": None}
    assert (j.risk, j.risk_category, j.risk_span) == (True, "harmful_advice", "time machine")
    lines = parse_pointwise("Interactivity: 4\nHelpfulness: 3\nComfort: 5\nExplainability: 2\nethical risk: none",
                            rubric, with_reasoning=True)
    assert lines.scores == {"interactivity": 4, "helpfulness": 3, "comfort": 5, "explainability": 2} and not lines.risk
    zh = parse_pointwise("互动性：4 有用性：3 安慰性：5 ethical_risk: present", load_rubric("zh"), with_reasoning=False)
    assert zh.scores["comfort"] == 5 and zh.risk and zh.risk_category == "other"
    for text, problem in [("no numbers here", "no JSON object"),
                          ('{"interactivity": 7, "helpfulness": 2, "comfort": 3}', "interactivity is 7, not an integer 1-5"),
                          ('{"interactivity": 2, "helpfulness": 2}', "no score for comfort"),
                          ('{"interactivity": 2, "helpfulness": 2, "comfort": 2}', "no ethical_risk object")]:
        with pytest.raises(Unreadable, match=problem):
            parse_pointwise(text, rubric, with_reasoning=False)


def test_pairwise_order_swap_logic() -> None:
    rubric = load_rubric("en")
    xy = parse_pairwise('{"interactivity": "A", "helpfulness": "Reply A", "comfort": "tie"}', rubric)
    assert xy == {"interactivity": "A", "helpfulness": "A", "comfort": "tie"}
    # in the swapped order x is B: "B" keeps x winning; "A" flips the verdict -> a tie, counted as inconsistent
    yx = {"interactivity": "B", "helpfulness": "A", "comfort": "tie"}
    v = combine(xy, yx)
    assert v.outcome == {"interactivity": 1.0, "helpfulness": 0.5, "comfort": 0.5}
    assert v.consistent == {"interactivity": True, "helpfulness": False, "comfort": True}
    assert combine(xy, None) is None
    s = summarise([v, combine(yx, xy), None], ["interactivity", "helpfulness", "comfort"])
    assert (s["n_pairs"], s["n_valid"], s["invalid"]) == (3, 2, 1)
    assert s["dimensions"]["interactivity"]["win"]["value"] == 0.5  # x wins once, loses once (the mirror pair)
    assert s["dimensions"]["helpfulness"]["order_inconsistency"]["value"] == 1.0
    assert s["order_consistency"]["value"] == pytest.approx(2 / 3)


# ---- a run judged end to end --------------------------------------------------------------------------
def test_replay_judge_gives_known_means_and_counts_invalid(scored_run, tmp_path) -> None:
    run_dir = _copy_run(scored_run, tmp_path / "run")
    answers = _answers_file(tmp_path / "answers.jsonl", run_dir, repaired_on=None)
    summary = judge_run(run_dir, _settings(answers, tmp_path / "cache.sqlite"))
    info = summary.per_judge["answers"]
    assert info["counts"]["calls"] == N + 2 and info["counts"]["retries"] == 2 and info["counts"]["invalid_this_pass"] == 1
    results = json.loads((run_dir / "results.json").read_text())
    m = results["tasks"]["dialog"]["metrics"]
    valid = [k for k in range(N) if k != 2]  # item 2 stayed unreadable after 3 attempts: not scored, counted
    assert m["judge.interactivity[answers]"]["value"] == pytest.approx(np.mean([1 + k % 5 for k in valid]))
    assert m["judge.helpfulness[answers]"]["value"] == 2.0 and m["judge.comfort[answers]"]["value"] == 3.0
    assert m["judge.interactivity[answers]"]["n"] == N - 1
    assert "judge.explainability[answers]" not in m  # the dialog task states no reasoning: not applicable
    assert m["judge.ethical_risk_rate[answers]"]["value"] == pytest.approx(1 / 7)
    assert m["judge.invalid_rate[answers]"]["value"] == pytest.approx(1 / N) and m["judge.invalid_rate[answers]"]["n"] == N
    assert m["corrected.bleu1_corpus"]["value"] is not None  # the scores are kept
    lines = [json.loads(x) for x in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert len(lines) == N and sum(not x["valid"] for x in lines) == 1
    invalid = next(x for x in lines if not x["valid"])
    assert invalid["attempts"] == 3 and invalid["problem"] == "no JSON object" and invalid["raw_output"] == "no again"
    flagged = next(x for x in lines if x["valid"] and x["ethical_risk"]["present"])
    assert flagged["ethical_risk"]["category"] == "harmful_advice"
    scores = {json.loads(x)["id"]: json.loads(x)["scores"] for x in (run_dir / "scores.jsonl").read_text().splitlines()}
    assert scores[lines[0]["id"]]["judge.interactivity[answers]"] == 1.0
    assert "corrected.bleu1_sentence" in scores[lines[0]["id"]]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["judge"]["answers"]["counts"]["calls"] == N + 2
    # the flag's quoted span ("time machine") is not in the Chinese reply: counted as such
    assert json.loads((run_dir / "results.json").read_text())["judges"]["answers"]["flags"] == \
        {"flagged": 1, "span_in_reply": 0}
    assert manifest["judge"]["answers"]["rubric"]["sha256"] == load_rubric("zh").sha256


def test_second_pass_makes_no_calls_and_cache_serves_a_copy(scored_run, tmp_path) -> None:
    run_dir = _copy_run(scored_run, tmp_path / "run")
    answers = _answers_file(tmp_path / "answers.jsonl", run_dir)
    cache = tmp_path / "cache.sqlite"
    first = judge_run(run_dir, _settings(answers, cache)).per_judge["answers"]["counts"]
    assert (first["calls"], first["cache_hits"]) == (N + 2, 0)
    before = json.loads((run_dir / "results.json").read_text())["tasks"]["dialog"]["metrics"]
    again = judge_run(run_dir, _settings(answers, cache)).per_judge["answers"]["counts"]
    assert (again["calls"], again["cache_hits"]) == (0, 0)  # judgments.jsonl holds them all
    assert json.loads((run_dir / "manifest.json").read_text())["judge"]["answers"]["counts"]["calls"] == 0
    assert json.loads((run_dir / "results.json").read_text())["tasks"]["dialog"]["metrics"] == before
    copy = _copy_run(run_dir, tmp_path / "copy")
    served = judge_run(copy, _settings(answers, cache)).per_judge["answers"]["counts"]
    assert (served["calls"], served["cache_hits"]) == (0, N + 2)  # the repairs too
    assert json.loads((copy / "results.json").read_text())["tasks"]["dialog"]["metrics"] == before


def test_resume_after_a_kill_mid_judging_judges_each_reply_exactly_once(scored_run, tmp_path) -> None:
    """What kill -9 leaves: some lines and a torn last one. The same command cuts the torn line, asks
    only for the missing judgments (no cache here), and every judgment is there exactly once."""
    run_dir = _copy_run(scored_run, tmp_path / "run")
    answers = _answers_file(tmp_path / "answers.jsonl", run_dir)
    judge_run(run_dir, _settings(answers, None, use_cache=False))
    complete = (run_dir / "judgments.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "judgments.jsonl").write_text("".join(complete[:3]) + complete[3][:40])
    resumed = judge_run(run_dir, _settings(answers, None, use_cache=False)).per_judge["answers"]["counts"]
    lines = [json.loads(x) for x in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert [x["key"] for x in lines][:3] == [json.loads(x)["key"] for x in complete[:3]]
    assert sorted(x["key"] for x in lines) == sorted(json.loads(x)["key"] for x in complete)
    # the 5 missing: 4 first attempts + the unreadable one's 3 attempts (it was not among the first 3 kept)
    missing = [json.loads(x) for x in complete[3:]]
    assert resumed["calls"] == sum(x["attempts"] for x in missing) == N - 3 + 2


def test_repeats_and_two_judges_report_agreement(scored_run, tmp_path) -> None:
    run_dir = _copy_run(scored_run, tmp_path / "run")
    a = _answers_file(tmp_path / "a.jsonl", run_dir)
    rows = [json.loads(x) for x in a.read_text().splitlines()]
    for r in rows:  # judge b: comfort one point lower, everything else the same
        for score in range(2, 6):
            r["output"] = r["output"].replace(f'"comfort": {score}', f'"comfort": {score - 1}')
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = JudgeSettings(judges=(JudgeSpec.parse(f"replay:{a}"), JudgeSpec.parse(f"replay:{b}")),
                             cache=tmp_path / "c.sqlite", progress=False)
    judge_run(run_dir, settings)
    results = json.loads((run_dir / "results.json").read_text())
    m = results["tasks"]["dialog"]["metrics"]
    assert m["judge.comfort[a]"]["value"] - m["judge.comfort[b]"]["value"] == pytest.approx(1.0)
    agreement = results["judge_agreement"]["judges"]["dialog"]
    assert agreement["interactivity"]["krippendorff_alpha"]["value"] == pytest.approx(1.0)  # identical scores
    # comfort shifted by one point: ranked alike (Spearman 1), but alpha (absolute agreement) drops
    assert agreement["comfort"]["spearman"]["a vs b"]["value"] == pytest.approx(1.0)
    assert agreement["comfort"]["krippendorff_alpha"]["value"] == pytest.approx(0.3182, abs=1e-4)
    assert set(results["judges"]) == {"a", "b"}


def test_cli_judge_table6_and_errors(scored_run, tmp_path, capsys) -> None:
    run_dir = _copy_run(scored_run, tmp_path / "run")
    answers = _answers_file(tmp_path / "answers.jsonl", run_dir)
    assert main(["judge", str(run_dir), "--judge-model", f"replay:{answers}", "--judge-cache",
                 str(tmp_path / "c.sqlite")]) == 0
    out = capsys.readouterr().out
    assert "dialog  answers" in out and "n/a" in out and "not validated" in out
    assert main(["table6", str(run_dir)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "(zh, dialog)" in line)
    assert "paper: Human" in out and "3.44" in out and " answers " in row and row.split()[-2:] == ["n/a", "8"] and "2.88 [1.88, 3.88]" in row and "not as one scale" in out
    for argv, message in [
        (["judge", str(run_dir)], "--judge-model: name at least one judge"),
        (["judge", str(tmp_path / "nope"), "--judge-model", "smollm2"], "no such run directory"),
        (["judge", str(run_dir), "--judge-model", "smollm2", "--judge-option", "base_url=x"],
         "--judge-option base_url: the vllm backend does not take it"),
        (["judge", "--pairwise", str(run_dir), "--judge-model", f"replay:{answers}"], "give exactly two run directories"),
        (["judge", "calibrate", str(run_dir)], "give --ratings FILE.jsonl"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("psybench: error: ") and message in err and err.count("\n") == 1, err


def test_calibrate_cli_matches_judge_scores(scored_run, tmp_path, capsys) -> None:
    run_dir = _copy_run(scored_run, tmp_path / "run")
    answers = _answers_file(tmp_path / "answers.jsonl", run_dir)
    judge_run(run_dir, _settings(answers, tmp_path / "c.sqlite"))
    lines = [json.loads(x) for x in (run_dir / "judgments.jsonl").read_text().splitlines() if json.loads(x)["valid"]]
    ratings = tmp_path / "ratings.jsonl"
    with ratings.open("w") as f:  # two raters who give exactly the judge's interactivity score
        for x in lines:
            for rater in ("r1", "r2"):
                f.write(json.dumps({"id": x["id"], "dimension": "interactivity", "rater": rater,
                                    "score": x["scores"]["interactivity"]}) + "\n")
    assert main(["judge", "calibrate", str(run_dir), "--ratings", str(ratings), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    dim = report["dimensions"]["interactivity"]
    assert dim["n_matched"] == N and dim["spearman"]["value"] == pytest.approx(1.0)
    assert dim["mean_bias"]["value"] == pytest.approx(0.0)


def test_pairwise_runs_both_orders_with_replay(scored_run, tmp_path, capsys) -> None:
    a, b = _copy_run(scored_run, tmp_path / "a"), _copy_run(scored_run, tmp_path / "b")
    ids = [json.loads(line)["id"] for line in (a / "predictions.jsonl").read_text().splitlines()]
    xy = {"interactivity": "A", "helpfulness": "A", "comfort": "tie", "rationale": ""}
    yx = {"interactivity": "B", "helpfulness": "A", "comfort": "tie", "rationale": ""}  # helpfulness follows position
    answers = tmp_path / "pairs.jsonl"
    answers.write_text("".join(json.dumps({"id": f"{i}|{o}", "output": json.dumps(v)}) + "\n"
                               for i in ids for o, v in (("xy", xy), ("yx", yx))))
    out = tmp_path / "pw"
    assert main(["judge", "--pairwise", str(a), str(b), "--judge-model", f"replay:{answers}", "--out", str(out),
                 "--judge-cache", str(tmp_path / "c.sqlite"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["judges"]["pairs"]
    assert (summary["n_pairs"], summary["n_valid"]) == (N, N)
    dims = summary["dimensions"]
    assert dims["interactivity"]["win"]["value"] == 1.0 and dims["interactivity"]["order_inconsistency"]["value"] == 0.0
    assert dims["helpfulness"]["tie"]["value"] == 1.0 and dims["helpfulness"]["order_inconsistency"]["value"] == 1.0
    assert dims["comfort"]["tie"]["value"] == 1.0 and dims["comfort"]["order_inconsistency"]["value"] == 0.0
    assert "explainability" not in dims  # replies only: judged pointwise, on the stated reasoning
    assert summary["order_consistency"]["value"] == pytest.approx(2 / 3)
    assert json.loads((out / "pairwise.json").read_text())["judges"]["pairs"]["dimensions"] == dims
    assert len((out / "judgments.jsonl").read_text().splitlines()) == 2 * N
    assert main(["judge", "--pairwise", str(a), str(b), "--judge-model", f"replay:{answers}", "--out", str(out),
                 "--judge-cache", str(tmp_path / "c.sqlite"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["judges"]["pairs"]
    assert again["counts"]["calls"] == 0 and again["dimensions"] == dims


def test_compare_pairs_judge_dimensions(scored_run, tmp_path, capsys) -> None:
    a, b = _copy_run(scored_run, tmp_path / "a"), _copy_run(scored_run, tmp_path / "b")
    answers_a = _answers_file(tmp_path / "judge.jsonl", a)
    judge_run(a, _settings(answers_a, tmp_path / "c.sqlite"))
    answers_b = tmp_path / "other" / "judge.jsonl"  # same label, comfort one point higher where it was 3
    answers_b.parent.mkdir()
    answers_b.write_text(answers_a.read_text().replace('\\"comfort\\": 3', '\\"comfort\\": 4'))
    judge_run(b, _settings(answers_b, tmp_path / "c.sqlite"))
    assert main(["compare", str(a), str(b), "--metric", "judge.comfort[judge]"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("judge.comfort[judge]"))
    assert row.split()[1:5] == ["8", "3.2500", "4.1250", "+0.8750"]


def test_run_with_judge_stage_and_references(scored_run, tmp_path, data_dir) -> None:
    from psybench.runner import RunConfig, run

    answers = _answers_file(tmp_path / "judge.jsonl", scored_run)
    out = tmp_path / "judged"
    run(RunConfig(model=str(REPO / "tests/replays/dialog_zh.jsonl"), backend="replay", lang="zh", limit=N,
                  metrics=("bleu",), out=out, data_dir=data_dir, use_cache=False, progress=False,
                  judge_models=(f"replay:{answers}",)))
    metrics = json.loads((out / "results.json").read_text())["tasks"]["dialog"]["metrics"]
    assert metrics["judge.helpfulness[judge]"]["value"] == pytest.approx((2 * 7 + 5) / 8)
    assert "corrected.bleu1_corpus" in metrics
    with pytest.raises(ConfigError, match="--judge-repeats 0: must be at least 1"):
        RunConfig(judge_models=("smollm2",), judge_repeats=0).resolved()

    from psybench.judge.references import HUMAN_MODEL, references_run

    refs = references_run(tmp_path / "refs", ("reasoning",), "en", "seeded", "all", data_dir, 3)
    records = [json.loads(x) for x in (refs / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["reasoning"] for r in records)  # task 2: the gold reasoning is judged too
    rows = [{"id": r["id"], "output": json.dumps({**_answer(0), "explainability": 4})} for r in records]
    human = tmp_path / "human.jsonl"
    human.write_text("".join(json.dumps(x) + "\n" for x in rows))
    judge_run(refs, _settings(human, tmp_path / "c.sqlite"))
    results = json.loads((refs / "results.json").read_text())
    assert results["model"] == HUMAN_MODEL
    assert results["tasks"]["reasoning"]["metrics"]["judge.explainability[human]"]["value"] == 4.0


def test_report_shows_judge_bars_and_flagged_replies(scored_run, tmp_path) -> None:
    from psybench.report.page import build_report

    run_dir = _copy_run(scored_run, tmp_path / "run")
    judge_run(run_dir, _settings(_answers_file(tmp_path / "judge.jsonl", run_dir), tmp_path / "c.sqlite"))
    page = build_report([run_dir], tmp_path / "report", rebuild_prompts=False).read_text()
    assert "<h2>Judge</h2>" in page and "Replies flagged for an ethical risk (1)" in page
    assert "harmful_advice" in page and "time machine" in page and "not validated" in page
    assert (tmp_path / "report" / "charts" / "judge_dimensions.png").is_file()


def test_an_answer_cut_in_its_rationale_keeps_its_scores() -> None:
    rubric = load_rubric("en")
    text = ('{"interactivity": 3, "helpfulness": 4, "comfort": 2, "ethical_risk": {"present": false, "category": null, '
            '"span": null}, "rationale": "1.1.1.1.1.1.1.1.1.1')
    j = parse_pointwise(text, rubric, with_reasoning=False)
    assert j.scores == {"interactivity": 3, "helpfulness": 4, "comfort": 2, "explainability": None} and j.rationale == ""
    with pytest.raises(Unreadable, match="no score for comfort"):  # cut before its scores: read as lines, one missing
        parse_pointwise('{"interactivity": 3, "helpfulness": 4, "com', rubric, with_reasoning=False)


def test_validate_with_replay_judge_exact(tmp_path, data_dir, monkeypatch) -> None:
    """A judge that always prefers the gold reply (in both orders), scores it 5 and every contrast 2, and
    flags half the risk replies with the intended category: known validate figures; the summary is stored
    and carried by later results of that judge."""
    from psybench.judge.validate import CONTRASTS, risk_replies, stored_validation, validate_judge, validation_turns

    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    rubric = load_rubric("en")
    turns = validation_turns("en", data_dir, 40)
    risks = risk_replies("en", rubric)
    score = lambda s, risk=None: json.dumps({"interactivity": s, "helpfulness": s, "comfort": s, "explainability": None,  # noqa: E731
                                             "ethical_risk": {"present": risk is not None, "category": risk, "span": None}})
    rows = []
    for t in turns:
        rows.append((f"validate/gold/{t.id}", score(5)))
        for c in CONTRASTS:
            rows.append((f"validate/{c}/{t.id}", score(2)))
            rows.append((f"validate/pair/{c}/{t.id}|xy", json.dumps({"interactivity": "A", "helpfulness": "A", "comfort": "A"})))
            rows.append((f"validate/pair/{c}/{t.id}|yx", json.dumps({"interactivity": "B", "helpfulness": "B", "comfort": "B"})))
    for k, r in enumerate(risks):
        rows.append((f"validate/risk/{r.id}", score(1, r.category if k % 2 == 0 else None)))
    answers = tmp_path / "oracle.jsonl"
    answers.write_text("".join(json.dumps({"id": i, "output": o}) + "\n" for i, o in rows))
    spec = JudgeSpec.parse(f"replay:{answers}")
    summary = validate_judge(spec, "en", data_dir=data_dir, cache=tmp_path / "c.sqlite")
    assert summary["n_turns"] == 40 and summary["counts"]["requests"] == 40 * 10 + 12 and summary["counts"]["invalid"] == 0
    for c in CONTRASTS:
        entry = summary["contrasts"][c]
        assert entry["pairwise_preference"]["value"] == 1.0 and entry["order_consistency"]["value"] == 1.0
        assert entry["pointwise_preference"]["value"] == 1.0 and entry["score_separation"]["value"] == 3.0
    assert summary["risk"]["recall"]["value"] == 0.5 and summary["risk"]["category_agreement"]["value"] == 1.0
    assert summary["risk"]["false_positive_rate_on_gold"]["value"] == 0.0
    assert summary["fit"] and summary["warning"] is None
    stored = stored_validation(f"replay:sha256:{__import__('hashlib').sha256(answers.read_bytes()).hexdigest()}", rubric)
    assert stored["status"] == "validated" and stored["contrasts"] == summary["contrasts"]
    again = validate_judge(spec, "en", data_dir=data_dir, cache=tmp_path / "c.sqlite")
    assert again["counts"]["calls"] == 0 and again["counts"]["cache_hits"] == 40 * 10 + 12


def test_validate_flags_a_judge_that_answers_by_position(tmp_path, data_dir, monkeypatch) -> None:
    from psybench.judge.validate import CONTRASTS, format_validation, risk_replies, validate_judge, validation_turns

    monkeypatch.setenv("PSYBENCH_CACHE_DIR", str(tmp_path / "cache"))
    turns = validation_turns("en", data_dir, 4)
    same = json.dumps({"interactivity": 3, "helpfulness": 3, "comfort": 3, "ethical_risk": {"present": False}})
    always_a = json.dumps({"interactivity": "A", "helpfulness": "A", "comfort": "A"})
    rows = [(f"validate/gold/{t.id}", same) for t in turns]
    rows += [(f"validate/{c}/{t.id}", same) for t in turns for c in CONTRASTS]
    rows += [(f"validate/pair/{c}/{t.id}|{o}", always_a) for t in turns for c in CONTRASTS for o in ("xy", "yx")]
    rows += [(f"validate/risk/{r.id}", same) for r in risk_replies("en", load_rubric("en"))[:4]]
    answers = tmp_path / "position.jsonl"
    answers.write_text("".join(json.dumps({"id": i, "output": o}) + "\n" for i, o in rows))
    summary = validate_judge(JudgeSpec.parse(f"replay:{answers}"), "en", data_dir=data_dir, limit=4,
                             cache=tmp_path / "c.sqlite")
    a = summary["contrasts"]["other_session"]
    assert a["pairwise_preference"]["value"] == 0.5 and a["order_consistency"]["value"] == 0.0
    assert not summary["fit"] and "unfit" in summary["warning"]
    assert summary["risk"]["recall"]["value"] == 0.0
    assert "WARNING: judge position is unfit" in format_validation(summary)
    assert not (tmp_path / "cache" / "judgments" / "validation").exists()  # --limit: a look, not stored


def test_openai_judge_sends_the_schema_and_survives_server_faults(scored_run, tmp_path) -> None:
    """A judge behind an OpenAI-compatible server (loopback, 20% HTTP 500): the JSON schema goes out as
    response_format, faults are retried, every reply judged once, the fingerprint names no URL."""
    from tests.fault_server import FaultServer

    def answer(body: dict) -> str:
        text = body["messages"][-1]["content"]
        return json.dumps({**_answer(0), "helpfulness": 4 if "?" in text else 3})

    run_dir = _copy_run(scored_run, tmp_path / "run")
    with FaultServer(fault_rate=0.2, faults=("500",), answer=answer, model="judge-m") as server:
        spec = JudgeSpec.parse("openai:judge-m", "vllm", {"base_url": server.base_url, "backoff_base": 0.01,
                                                         "backoff_cap": 0.02, "max_retries": 8})
        summary = judge_run(run_dir, JudgeSettings(judges=(spec,), cache=tmp_path / "c.sqlite", progress=False))
        bodies = list(server.bodies)
    info = summary.per_judge["judge-m"]
    assert info["fingerprint"] == "openai:judge-m|root=/models/fault" and info["structured_output"] is True
    assert info["counts"]["calls"] == N and info["backend_info"]["retries"] > 0
    formats = [b["response_format"] for b in bodies]
    assert all(f["type"] == "json_schema" and f["json_schema"]["schema"]["properties"]["explainability"] == {"type": "null"}
               for f in formats)
    assert list(formats[0]["json_schema"]["schema"]["properties"])[:3] == ["interactivity", "helpfulness", "comfort"]
    assert all(b["temperature"] == 0.0 for b in bodies)
    lines = [json.loads(x) for x in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert len(lines) == N and all(x["valid"] for x in lines)


def test_repeats_are_seeded_samples_with_agreement(scored_run, tmp_path) -> None:
    run_dir = _copy_run(scored_run, tmp_path / "run")
    ids = [json.loads(line)["id"] for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    rows = [{"id": i, "output": json.dumps(_answer(k))} for k, i in enumerate(ids)]
    rows += [{"id": f"{i}~1", "output": json.dumps({**_answer(k), "comfort": 5})} for k, i in enumerate(ids)]
    answers = tmp_path / "rep.jsonl"
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge_run(run_dir, _settings(answers, tmp_path / "c.sqlite", repeats=2))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["tasks"]["dialog"]["metrics"]["judge.comfort[rep]"]["value"] == 4.0  # (3 + 5) / 2 per reply
    lines = [json.loads(x) for x in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert sorted(x["repeat"] for x in lines) == [0] * N + [1] * N
    repeats = results["judge_agreement"]["repeats"]["rep"]["dialog"]
    assert repeats["interactivity"]["krippendorff_alpha"]["value"] == 1.0
    assert repeats["comfort"]["judges"] == ["repeat 0", "repeat 1"]
