"""Malformed data: one-line DataError naming file, session and field; CLI exit 2, no traceback.
Fixtures are synthetic, written by hand (no Psy-Insight text)."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from psybench.cli import main
from psybench.constants import DATA_FILES
from psybench.data import load_sessions
from psybench.data import loader
from psybench.errors import DataError

EN_FILE = DATA_FILES["en"][0]


def _session(dialog_id: str = "000432") -> dict:
    return {
        "dialog_id": dialog_id, "theme": "N/A", "psychotherapy": "Cognitive Behaviour Therapy",
        "topic": "Job Crisis", "stage": "", "guide": "", "is_same_qa": 0, "is_same_session": 0,
        "background": "A made-up client.", "reasoning": "***", "summary": "A made-up summary.",
        "dialog": [
            {"speaker": "Supporter", "participant": "Therapist", "content": "Hello there.", "id": "1-0",
             "strategy": ["Question"], "reasoning": "Opens the session."},
            {"speaker": "Seeker", "participant": "Client", "content": "Hi.", "id": "1-1",
             "emotional label": ["Neutral", "Unknown"], "observation": "***"},
            {"speaker": "Seeker", "participant": "Client", "content": "Hi.", "id": "1-1",
             "emotional label": ["Joy"], "observation": "Repeats."},
        ],
    }


def _write(tmp_path, data) -> str:
    text = data if isinstance(data, str) else json.dumps(data)
    (tmp_path / EN_FILE).write_text(text, encoding="utf-8")
    return str(tmp_path)


def _mutated(change) -> list:  # noqa: ANN001
    data = [_session("000432"), _session("000433")]
    change(data)
    return data


def _del(path: list):  # noqa: ANN202
    def change(data):  # noqa: ANN001, ANN202
        obj = data
        for key in path[:-1]:
            obj = obj[key]
        del obj[path[-1]]
    return change


def _set(path: list, value):  # noqa: ANN001, ANN202
    def change(data):  # noqa: ANN001, ANN202
        obj = data
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return change


CASES = {
    "not_json": ("[{", f"{EN_FILE}: not valid JSON: "),
    "not_list": ({"dialog_id": "000432"}, f"{EN_FILE}: top level: expected a JSON list of sessions, got dict"),
    "empty_list": ([], f"{EN_FILE}: top level: the list of sessions is empty"),
    "session_not_object": (["x"], f"{EN_FILE}: session at index 0: expected an object, got str"),
    "missing_dialog_id": (_mutated(_del([1, "dialog_id"])),
                          f"{EN_FILE}: session at index 1: dialog_id: missing key"),
    "missing_topic": (_mutated(_del([0, "topic"])), f"{EN_FILE}: session 000432 (index 0): topic: missing key"),
    "bad_id": (_mutated(_set([0, "dialog_id"], "432")),
               f"{EN_FILE}: session 432 (index 0): dialog_id: expected a 6-digit string, got '432'"),
    "duplicate_id": (_mutated(_set([1, "dialog_id"], "000432")),
                     f"{EN_FILE}: session 000432 (index 1): dialog_id: duplicate dialog_id (first at index 0)"),
    "wrong_type": (_mutated(_set([0, "background"], 5)),
                   f"{EN_FILE}: session 000432 (index 0): background: expected a string, got int"),
    "bad_same_qa": (_mutated(_set([0, "is_same_qa"], "yes")),
                    f"{EN_FILE}: session 000432 (index 0): is_same_qa: expected 0, 1 or '', got 'yes'"),
    "bad_same_session": (_mutated(_set([0, "is_same_session"], True)),
                         f"{EN_FILE}: session 000432 (index 0): is_same_session: expected -1, 0 or 1, got True"),
    "dialog_not_list": (_mutated(_set([0, "dialog"], "hi")),
                        f"{EN_FILE}: session 000432 (index 0): dialog: expected a list of turns, got str"),
    "empty_dialog": (_mutated(_set([1, "dialog"], [])), f"{EN_FILE}: session 000433 (index 1): dialog: empty dialog"),
    "turn_not_object": (_mutated(_set([0, "dialog", 1], None)),
                        f"{EN_FILE}: session 000432 (index 0): dialog[1]: expected an object, got null"),
    "unknown_speaker": (_mutated(_set([0, "dialog", 2, "speaker"], "Doctor")),
                        f"{EN_FILE}: session 000432 (index 0): dialog[2].speaker: unknown speaker 'Doctor' "
                        "(expected Seeker or Supporter)"),
    "missing_content": (_mutated(_del([1, "dialog", 0, "content"])),
                        f"{EN_FILE}: session 000433 (index 1): dialog[0].content: missing key"),
    "content_not_str": (_mutated(_set([0, "dialog", 0, "content"], ["a"])),
                        f"{EN_FILE}: session 000432 (index 0): dialog[0].content: expected a string, got list"),
    "missing_strategy": (_mutated(_del([0, "dialog", 0, "strategy"])),
                         f"{EN_FILE}: session 000432 (index 0): dialog[0].strategy: missing key "
                         "(required on Supporter turns)"),
    "labels_not_list": (_mutated(_set([0, "dialog", 1, "emotional label"], "Neutral")),
                        f"{EN_FILE}: session 000432 (index 0): dialog[1].emotional label: expected a list of "
                        "strings, got str"),
    "reasoning_not_str": (_mutated(_set([0, "dialog", 0, "reasoning"], 3)),
                          f"{EN_FILE}: session 000432 (index 0): dialog[0].reasoning: expected a string, got int"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed(tmp_path, capsys, case):
    data, message = CASES[case]
    directory = _write(tmp_path, data)
    with pytest.raises(DataError) as err:
        load_sessions("en", directory)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
    assert main(["data", "check", "--lang", "en", "--json", "--data-dir", directory]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"psybench: error: {message}")
    assert "Traceback" not in captured.err and captured.out == ""


def test_synthetic_normalisation_counted(tmp_path, capsys):
    directory = _write(tmp_path, [_session("000432")])
    sessions = load_sessions("en", directory)  # checksum differs: warned, not fatal
    turns = sessions[0].turns
    assert sessions[0].theme == "" and sessions[0].reasoning == ""
    assert sessions[0].psychotherapy == "Cognitive Behavioral Therapy"
    assert turns[1].emotions == frozenset({"Neutral", "Unknown"}) and turns[1].observation == ""
    assert turns[2].emotions == frozenset({"Joy"})  # unknown label kept as written, and counted
    log = loader.load("en", directory).log.summary()
    assert log["unknown_labels"] == {"emotion": {"Joy": 1}}
    assert log["changes"] == {"label_variant:psychotherapy": 1, "placeholder:reasoning": 1,
                              "placeholder:theme": 1, "placeholder:turn.observation": 1}


def test_checksum_warning_then_strict(tmp_path, data_dir, capsys):
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    raw = json.loads((data_dir / EN_FILE).read_bytes())
    raw[0]["summary"] += " "  # any change of bytes
    blob = json.dumps(raw, ensure_ascii=False).encode()
    (copy_dir / EN_FILE).write_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest()
    expected = DATA_FILES["en"][1]
    assert len(load_sessions("en", copy_dir)) == 520
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and EN_FILE in err and digest in err and expected in err
    load_sessions("en", copy_dir)
    assert capsys.readouterr().err == ""  # once per process
    with pytest.raises(DataError, match=f"{EN_FILE}: sha256 {digest} differs .*{expected}"):
        load_sessions("en", copy_dir, strict=True)
    assert main(["data", "check", "--lang", "en", "--strict", "--data-dir", str(copy_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "--strict" in captured.err


def test_missing_file_in_dir(tmp_path, capsys):
    assert main(["data", "check", "--lang", "zh", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cn_data_version7.json not found" in err


def test_split_file_from_data_dir_overrides_packaged(tmp_path, data_dir):
    from psybench.data import get_split

    shutil.copy(data_dir / EN_FILE, tmp_path / EN_FILE)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "en_released_test.json").write_text(json.dumps({"dialog_ids": ["000433", "000432"]}))
    split = get_split("released", "en", tmp_path)
    assert split.test_ids == ("000433", "000432") and len(split.train_ids) == 518
    (tmp_path / "splits" / "en_released_test.json").write_text(json.dumps({"dialog_ids": ["999999"]}))
    with pytest.raises(DataError, match=r"en_released_test.json: dialog_ids\[0\]: dialog_id 999999 is not"):
        get_split("released", "en", tmp_path)


def test_data_file_not_utf8(tmp_path, capsys):
    head = json.dumps([_session("000432")]).encode()[:40]
    (tmp_path / EN_FILE).write_bytes(head + b"\xff\xfe")
    message = f"{EN_FILE}:1: not UTF-8 text (byte 0xff at byte offset {len(head)}); save the file as UTF-8"
    with pytest.raises(DataError) as err:
        load_sessions("en", tmp_path)
    assert str(err.value) == message
    assert main(["data", "check", "--lang", "en", "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"psybench: error: {message}\n" and captured.out == ""
    assert (tmp_path / EN_FILE).read_bytes() == head + b"\xff\xfe"  # nothing lost
