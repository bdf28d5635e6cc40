"""Issue 9 part 2: bad input gives one line naming the file or flag and the place, exit code 2 (3 for a
backend), no traceback, nothing lost; and a run checks what it will need before it generates.

Covered: files that are not UTF-8 (every reader), unknown and ill-typed task options, a --model path
that does not exist, a server that refuses connections (fast), the scoring resources (encoder, WordNet,
retrieval model) checked before the first generation, and the embedded default's encoder in Chinese."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from psybench import preflight
from psybench.cli import build_parser, main
from psybench.commands.run import config_from_args
from psybench.errors import ConfigError, MissingResourceError
from psybench.runner import RunConfig
from psybench.tasks import build_samples, check_task_options, get_task
from psybench.tasks.registry import parse_option_value, parse_task_file

BAD = b"\xff\xfe"  # never valid UTF-8


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int, expected_code: int = 2) -> str:
    """The single stderr line of a failed command (asserting exit code, one line, no traceback)."""
    err = capsys.readouterr().err
    assert code == expected_code, err
    assert err.count("\n") == 1 and err.startswith("psybench: error: ") and "Traceback" not in err
    return err.strip()


def _replay_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.jsonl"
    path.write_text(json.dumps({"id": "dialog/000001/1", "prediction": "Therapist: hi"}) + "\n", encoding="utf-8")
    return path


# ---- files that are not UTF-8 ---------------------------------------------------------------------------

def test_score_predictions_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = json.dumps({"id": "a", "prediction": "x", "reference": "y"}).encode() + b"\n"
    path = tmp_path / "preds.jsonl"
    path.write_bytes(first + b'{"id": "b", "prediction": "' + BAD + b'", "reference": "y"}\n')
    before = path.read_bytes()
    err = _one_line_error(capsys, main(["score", str(path), "--lang", "en", "--out", str(tmp_path / "out")]))
    offset = len(first) + len(b'{"id": "b", "prediction": "')
    assert err == (f"psybench: error: {path}:2: not UTF-8 text (byte 0xff at byte offset {offset}); "
                   "save the file as UTF-8")
    assert path.read_bytes() == before and not (tmp_path / "out").exists()


def test_replay_file_not_utf8_fails_before_generating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outputs.jsonl"
    head = b'{"id": "x", "prediction": "'
    path.write_bytes(head + BAD + b'"}\n')
    out = tmp_path / "run"
    code = main(["run", "--backend", "replay", "--model", str(path), "--bertscore-model", "minilm",
                 "--out", str(out), "--no-progress"])
    err = _one_line_error(capsys, code)
    assert err == (f"psybench: error: {path}:1: not UTF-8 text (byte 0xff at byte offset {len(head)}); "
                   "save the file as UTF-8")
    assert not (out / "predictions.jsonl").exists()


def test_results_json_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    head = b'{\n"run_id": "'
    (run / "results.json").write_bytes(head + BAD + b'"}')
    code = main(["leaderboard", "add", str(run), "--dir", str(tmp_path / "lb")])
    err = _one_line_error(capsys, code)
    assert err == (f"psybench: error: {run / 'results.json'}:2: not UTF-8 text (byte 0xff at byte offset "
                   f"{len(head)}); save the file as UTF-8")
    assert not (tmp_path / "lb" / "generation.csv").exists()


def test_manifest_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_bytes(BAD)
    code = main(["run", "--backend", "replay", "--model", str(_replay_file(tmp_path)), "--bertscore-model", "minilm",
                 "--out", str(out), "--no-progress"])
    err = _one_line_error(capsys, code)
    assert err == (f"psybench: error: {out / 'manifest.json'}:1: not UTF-8 text (byte 0xff at byte offset 0); "
                   "save the file as UTF-8")
    assert (out / "manifest.json").read_bytes() == BAD and not (out / "predictions.jsonl").exists()


def test_task_yaml_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    head = b"name: toy\ndescription: caf"
    (tmp_path / "toy.yaml").write_bytes(head + BAD + b"\n")
    monkeypatch.setenv("PSYBENCH_TASKS_DIR", str(tmp_path))
    err = _one_line_error(capsys, main(["tasks"]))
    assert err == (f"psybench: error: {tmp_path / 'toy.yaml'}:2: not UTF-8 text (byte 0xff at byte offset "
                   f"{len(head)}); save the file as UTF-8")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    from psybench.jsonl import iter_jsonl, read_json

    (tmp_path / "a.json").write_bytes(b'\xef\xbb\xbf{"a": 1}')
    (tmp_path / "b.jsonl").write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')
    assert read_json(tmp_path / "a.json") == {"a": 1}
    assert list(iter_jsonl(tmp_path / "b.jsonl")) == [(1, {"a": 1}), (2, {"a": 2})]


# ---- task options ------------------------------------------------------------------------------------------

def test_unknown_task_option_lists_known(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, main(["run", "--task-option", "nosuch=1", "--dry-run"]))
    assert err == ("psybench: error: --task-option nosuch=1: task dialog has no option 'nosuch' "
                   "(options of dialog: variant (str, default 'dialog'))")


def test_ill_typed_task_option(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, main(["run", "--tasks", "rag_dialog", "--task-option", "rag_k=abc", "--dry-run"]))
    assert err.startswith("psybench: error: --task-option rag_k=abc: expected an integer for option rag_k of task "
                          "rag_dialog, got 'abc' (options of rag_dialog: rag_chunk_stride (int, default 4), ")
    assert "rag_k (int, default 3)" in err and "retrieval_model (str)" in err
    err = _one_line_error(capsys, main(["tasks", "show", "topic", "--task-option", "max_chars=lots"]))
    assert "--task-option max_chars=lots: expected an integer for option max_chars of task topic" in err


def test_option_of_another_task_is_refused_alone_accepted_together(capsys: pytest.CaptureFixture[str]) -> None:
    err = _one_line_error(capsys, main(["run", "--tasks", "dialog", "--rag-k", "5", "--dry-run"]))
    assert err.startswith("psybench: error: --rag-k 5: task dialog has no option 'rag_k'")
    err = _one_line_error(capsys, main(["run", "--tasks", "dialog,emotion", "--task-option", "k=1", "--dry-run"]))
    assert err.startswith("psybench: error: --task-option k=1: no task of this run (dialog, emotion) has an option "
                          "'k' (known options: dialog: variant (str, default 'dialog'); emotion: context_turns (int), ")
    args = build_parser().parse_args(["run", "--tasks", "dialog,rag_dialog", "--rag-k", "5", "--retrieval-model",
                                      "e5", "--task-option", "rag_explanations=yes", "--task-option", "rag_k=2"])
    assert config_from_args(args).task_options == {"rag_k": 5, "rag_explanations": True, "retrieval_model": "e5"}


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("1", True), ("0", False),
                                             ("yes", True), ("no", False), ("True", True), ("NO", False)])
def test_boolean_options_parse(text: str, value: bool) -> None:
    assert check_task_options(["rag_dialog"], {"rag_explanations": text}) == {"rag_explanations": value}


def test_option_values_parse_to_declared_type() -> None:
    assert parse_option_value("5", "int") == 5 and parse_option_value(" -2 ", "int") == -2
    assert parse_option_value("0.5", "float") == 0.5 and parse_option_value(2, "float") == 2.0
    assert parse_option_value("e5", "str") == "e5" and parse_option_value(True, "bool") is True
    for value, kind in (("1.5", "int"), (True, "int"), ("maybe", "bool"), (2, "bool"), ("nan", "float"),
                        (3, "str")):
        with pytest.raises(ValueError, match="expected"):
            parse_option_value(value, kind)
    with pytest.raises(ConfigError, match=r"^task option rag_explanations='maybe': expected a boolean \(true/false, "
                                          r"1/0, yes/no\) for option rag_explanations of task rag_dialog"):
        check_task_options(["rag_dialog"], {"rag_explanations": "maybe"})


def test_build_samples_checks_options_before_loading_data(tmp_path: Path) -> None:
    # no data needed: the option is refused before the data is read
    with pytest.raises(ConfigError, match=r"^task option nosuch=1: task dialog has no option 'nosuch'"):
        build_samples("dialog", "en", data_dir=tmp_path, nosuch=1)
    with pytest.raises(ConfigError, match=r"^task option rag_k='x': expected an integer"):
        build_samples("rag_dialog", "en", data_dir=tmp_path, rag_k="x")


def test_yaml_option_declarations(tmp_path: Path) -> None:
    head = ("name: toy\ndescription: d\nkind: classification\nbuilder: classification\nlangs: [en]\n"
            "extract: labels\n")
    path = tmp_path / "toy.yaml"
    path.write_text(head + "options: {label: topic, include_background: true, cap: {type: int, default: null}}\n")
    spec = parse_task_file(path)
    assert spec.options == {"label": "topic", "include_background": True}  # null: the builder's default
    assert spec.option_types == {"context_turns": "int", "max_chars": "int", "label": "str",
                                 "include_background": "bool", "cap": "int"}
    for options, message in (("{cap: null}", r"field 'options.cap': default None has no option type"),
                             ("{cap: {type: number}}", r"field 'options.cap.type': 'number' is not one of"),
                             ("{cap: {type: int, default: x}}", r"field 'options.cap.default': expected an integer"),
                             ("{cap: [1]}", r"field 'options.cap': default \[1\] has no option type")):
        path.write_text(head + f"options: {options}\n")
        with pytest.raises(ConfigError, match=message) as info:
            parse_task_file(path)
        assert "\n" not in str(info.value)
    assert get_task("rag_dialog").option_types["retrieval_model"] == "str"


# ---- the model -----------------------------------------------------------------------------------------------

def test_model_path_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["run", "--model", "/path/that/does/not/exist", "--out", str(out), "--no-progress"])
    err = _one_line_error(capsys, code)
    assert err == ("psybench: error: --model /path/that/does/not/exist: no such local folder, and not a valid "
                   "Hugging Face hub id")
    assert not out.exists()


def test_model_name_check(tmp_path: Path) -> None:
    preflight.check_model_name(str(tmp_path))  # an existing folder
    preflight.check_model_name("HuggingFaceTB/SmolLM2-135M-Instruct")  # a hub id
    for bad in ("./missing", "../missing", "~/missing", "a/b/c", "not a repo id!"):
        with pytest.raises(MissingResourceError, match=r"no such local folder, and not a valid Hugging Face hub id"):
            preflight.check_model_name(bad)
    from psybench.backends import create_backend  # the backends check too, before any engine starts

    for backend in ("vllm", "hf"):
        with pytest.raises(MissingResourceError, match=r"^--model /no/such/model: no such local folder"):
            create_backend(backend, "/no/such/model")


# ---- the openai server -------------------------------------------------------------------------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_server_fails_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    out = tmp_path / "run"
    start = time.monotonic()
    code = main(["run", "--backend", "openai", "--base-url", url, "--model", "m", "--bertscore-model", "minilm",
                 "--out", str(out), "--no-progress"])
    elapsed = time.monotonic() - start
    err = _one_line_error(capsys, code, expected_code=2)
    assert err == (f"psybench: error: --base-url {url}: no server answers at {url}/models (Connection refused); "
                   "start the server or fix --base-url (checked before generating; nothing was generated)")
    assert elapsed < 5 and not out.exists()


def test_silent_server_times_out_fast() -> None:
    with socket.socket() as sock:  # listens, never answers: the connection is made, no reply comes
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        start = time.monotonic()
        with pytest.raises(MissingResourceError, match=rf"^--base-url {url}: no server answers at {url}/models \(timed out\)"):
            preflight.check_endpoint(url)
        assert time.monotonic() - start < 5


def test_any_http_answer_passes() -> None:
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        preflight.check_endpoint(f"http://127.0.0.1:{server.server_address[1]}/v1")  # a server without /models
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ConfigError, match=r"^--base-url localhost:8000: expected an http\(s\) URL"):
        preflight.check_endpoint("localhost:8000")


def test_finished_run_is_rescored_without_its_server(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"counts": {"samples": {"dialog": 2}}}))
    (out / "predictions.jsonl").write_text('{"id": "a"}\n{"id": "b"}\n')
    config = RunConfig(model="m", backend="openai", base_url=f"http://127.0.0.1:{_closed_port()}/v1", out=out,
                       stage="generate").resolved()
    preflight.check_run(config)  # every prediction is there: no backend will start
    (out / "predictions.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(MissingResourceError, match="no server answers"):
        preflight.check_run(config)


# ---- scoring resources, checked before the first generation -------------------------------------------------------

def _run_replay(tmp_path: Path, *flags: str) -> tuple[int, Path]:
    out = tmp_path / "run"
    code = main(["run", "--backend", "replay", "--model", str(_replay_file(tmp_path)), "--out", str(out),
                 "--no-progress", *flags])
    return code, out


def test_english_only_encoder_on_chinese_before_generating(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run_replay(tmp_path, "--lang", "zh", "--bertscore-model", "minilm")
    err = _one_line_error(capsys, code)
    assert err.startswith("psybench: error: encoder all-MiniLM-L6-v2 is English-only and cannot score Chinese")
    assert "--bertscore-model e5" in err and err.endswith("(checked before generating; nothing was generated)")
    assert not (out / "predictions.jsonl").exists()


def test_missing_encoder_before_generating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from psybench.assets import encoders

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(encoders, "_hub_cached", lambda name: None)  # roberta-large is not in the HF cache
    code, out = _run_replay(tmp_path)  # no --bertscore-model: the paper's
    err = _one_line_error(capsys, code)
    assert err.startswith("psybench: error: encoder roberta-large not found locally and HF_HUB_OFFLINE is set")
    assert "--bertscore-model minilm|mpnet" in err and err.endswith("nothing was generated)")
    assert not (out / "predictions.jsonl").exists()


def test_missing_wordnet_before_generating(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from psybench.assets import wordnet

    monkeypatch.setattr(wordnet, "_found", None)
    monkeypatch.setattr(wordnet, "_nltk_root_with_wordnet", lambda: None)
    monkeypatch.setattr(wordnet, "_NEEDED", ("no-such-wordnet-file",))
    code, out = _run_replay(tmp_path, "--bertscore-model", "minilm")
    err = _one_line_error(capsys, code)
    assert err == ("psybench: error: WordNet 3.0 not found: apt-get install wordnet-base wordnet-sense-index, or "
                   "python -m nltk.downloader wordnet (checked before generating; nothing was generated)")
    assert not (out / "predictions.jsonl").exists()


def test_missing_retrieval_model_before_generating(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run_replay(tmp_path, "--tasks", "rag_dialog", "--retrieval-model", "/no/such/encoder",
                            "--bertscore-model", "minilm")
    err = _one_line_error(capsys, code)
    assert err.startswith("psybench: error: retrieval model '/no/such/encoder' not found")
    assert "pass --retrieval-model minilm" in err and not (out / "predictions.jsonl").exists()


# ---- the embedded default follows the language ----------------------------------------------------------------

def test_embedded_default_encoder_follows_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from psybench.assets import encoders

    def resolved(*argv: str) -> RunConfig:  # what `run_bench.py ARGV` resolves to
        return config_from_args(build_parser().parse_args(["run", *argv])).resolved()

    monkeypatch.setattr(encoders, "_hub_cached", lambda name: None)  # bert-base-chinese absent
    assert resolved("--lang", "zh", "--tasks", "dialog", "--limit", "4").bertscore_model == "e5"
    assert resolved("--lang", "en").bertscore_model == "minilm"
    assert resolved("--lang", "zh", "--bertscore-model", "mpnet").bertscore_model == "mpnet"  # a flag wins
    assert resolved("--lang", "zh", "--model", "m").bertscore_model is None  # a real model: the paper's
    monkeypatch.setattr(encoders, "_hub_cached", lambda name: "/hf/bert-base-chinese" if name == "bert-base-chinese"
                        else None)
    assert resolved("--lang", "zh").bertscore_model == "bert-base-chinese"
