"""A fleet of OpenAI-compatible servers behind the openai backend (backends/fleet.py): the routing and
health logic alone (a stand-in clock and probe), then loopback fault servers as a fleet (fast), then
the URL file and the run flags."""
from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

from psybench.backends import create_backend
from psybench.backends.fleet import Endpoint, Fleet, endpoint_urls
from psybench.cli import main
from psybench.constants import FLEET_PROBE_MESSAGES
from psybench.errors import BackendError, ConfigError
from psybench.records import GenerationParams, Request
from psybench.runner import RunConfig
from tests.fault_server import FaultServer, reply_text

REQUESTS = [Request(f"dialog/{i:06d}/1", ({"role": "user", "content": f"I feel tense, day {i}."},))
            for i in range(40)]
PROBE = FLEET_PROBE_MESSAGES[-1]["content"]
PARAMS = GenerationParams(max_tokens=8)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fleet_backend(urls, model="fault-model", **options):
    options = {"concurrency": 6, "max_retries": 6, "timeout": 0.5, "backoff_base": 0.01, "backoff_cap": 0.05,
               "cooldown": 0.05, "cooldown_cap": 0.2, **options}
    return create_backend("openai", model, base_url=list(urls), **options)


def _served(server: FaultServer) -> dict[str, int]:
    """What the server answered, by message, without the fleet's start-up probe."""
    return {content: n for content, n in server.served.items() if content != PROBE}


def _assert_each_once(outputs, servers) -> None:
    assert [o.id for o in outputs] == [r.id for r in REQUESTS]
    assert [o.text for o in outputs] == [reply_text(list(r.messages)) for r in REQUESTS]
    for request in REQUESTS:
        assert sum(_served(s).get(request.messages[-1]["content"], 0) for s in servers) == 1, request.id


# ---- the routing and health logic ----------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_least_busy_then_round_robin_and_cool_down_with_backoff() -> None:
    verdicts: list[tuple[str, str | None]] = []
    probed: list[str] = []

    def probe(endpoint: Endpoint) -> tuple[str, str | None]:
        probed.append(endpoint.url)
        return verdicts.pop(0)

    clock = Clock()
    a, b, c = (Endpoint(url) for url in ("http://a/v1", "http://b/v1", "http://c/v1"))
    fleet = Fleet([a, b, c], probe, cooldown=1.0, cooldown_cap=4.0, clock=clock)
    leases = [fleet.acquire() for _ in range(4)]
    assert [lease.url for lease in leases] == ["http://a/v1", "http://b/v1", "http://c/v1", "http://a/v1"]
    assert [e.in_flight for e in (a, b, c)] == [2, 1, 1]
    fleet.release(leases[1])
    fleet.release(leases[2])
    assert fleet.acquire().endpoint is b  # b and c idle: round robin goes on after a
    fleet.release(leases[0], "InternalServerError (HTTP 500)", outage=True)
    fleet.release(leases[3], "APIConnectionError", outage=True)  # sent before the outage: the same outage
    assert (a.outages, a.failures, a.strikes, a.down_until, a.in_flight) == (1, 2, 1, 101.0, 0)
    assert {fleet.acquire().url for _ in range(4)} == {"http://b/v1", "http://c/v1"}
    assert probed == []  # not before the cool-down ends
    clock.now = 101.0
    verdicts.append(("down", "APIConnectionError: refused"))
    assert fleet.acquire().endpoint is not a
    assert probed == ["http://a/v1"] and (a.strikes, a.down_until) == (2, 103.0)  # a failed comeback: doubled
    clock.now = 103.0
    verdicts.append(("ok", None))
    for e in (b, c):
        e.in_flight = 5  # a is the least busy now
    lease = fleet.acquire()
    assert lease.endpoint is a and a.down_until is None and a.outages == 1
    early = fleet.acquire()
    fleet.release(lease)
    assert a.strikes == 0  # an answer ends the run of failures
    fleet.release(fleet.acquire(), "APITimeoutError", outage=True)
    assert (a.outages, a.down_until) == (2, 104.0)
    fleet.release(early)  # an answer sent before this outage began does not put it back
    assert a.down_until == 104.0
    assert [r["state"] for r in fleet.records()] == ["out", "in service", "in service"]


def test_none_in_service_goes_to_the_one_back_soonest_and_a_retired_one_never() -> None:
    clock = Clock()
    a, b = Endpoint("http://a/v1"), Endpoint("http://b/v1")
    fleet = Fleet([a, b], lambda e: ("retire", "serves another model") if e is a else ("ok", None), cooldown=1.0,
                  clock=clock)
    fleet.release(fleet.acquire(), "InternalServerError", outage=True)  # a
    clock.now += 0.5
    fleet.release(fleet.acquire(), "InternalServerError", outage=True)  # b
    assert not fleet.in_service()
    fallback = fleet.acquire()
    assert fallback.endpoint is a  # back at 101.0, b at 101.5
    fleet.release(fallback)  # it answers: in service again
    assert a.down_until is None and a.strikes == 0
    fleet.release(fleet.acquire(), "InternalServerError", outage=True)
    clock.now = 102.0
    assert fleet.acquire().endpoint is b and a.retired == "serves another model"  # a's probe retired it
    assert fleet.records()[0]["state"] == "retired"
    b.retired = "serves another model"
    with pytest.raises(BackendError, match=r"^openai backend: every endpoint was retired \(http://a/v1, http://b/v1\)$"):
        fleet.acquire()


# ---- loopback fault servers as a fleet -------------------------------------------------------------------

def test_requests_spread_over_the_fleet_each_once() -> None:
    with FaultServer(fault_rate=0.0) as s1, FaultServer(fault_rate=0.0) as s2, FaultServer(fault_rate=0.0) as s3:
        backend = _fleet_backend([s1.base_url, s2.base_url], concurrency=1)
        outputs = backend.generate(REQUESTS, PARAMS)
        _assert_each_once(outputs, (s1, s2))
        assert [sum(_served(s).values()) for s in (s1, s2)] == [20, 20]  # one at a time: strict round robin
        assert [s.served[PROBE] for s in (s1, s2)] == [1, 1]  # the identity probe, once each
        assert [e["requests"] for e in backend.info()["endpoints"]] == [20, 20]
        backend.close()

        before = [sum(_served(s).values()) for s in (s1, s2, s3)]
        backend = _fleet_backend([s1.base_url, s2.base_url, s3.base_url], concurrency=6)
        streamed = []
        outputs = backend.generate(REQUESTS, PARAMS, streamed.append)
        info = backend.info()
        backend.close()
    assert sorted(o.id for o in streamed) == sorted(r.id for r in REQUESTS)
    assert [o.text for o in outputs] == [reply_text(list(r.messages)) for r in REQUESTS]
    spread = [sum(_served(s).values()) - n for s, n in zip((s1, s2, s3), before)]
    assert spread == [e["requests"] for e in info["endpoints"]] and sum(spread) == 40
    assert min(spread) >= 1  # the first three requests go to three idle endpoints


def test_dead_from_the_start_is_kept_out_with_a_warning(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="psybench.backends.openai")
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    with FaultServer(fault_rate=0.0) as live:
        backend = _fleet_backend([dead, live.base_url], cooldown=60.0, cooldown_cap=60.0)
        outputs = backend.generate(REQUESTS, PARAMS)
        info = backend.info()
        backend.close()
    _assert_each_once(outputs, (live,))
    assert any(f"endpoint {dead} does not answer at start" in r.getMessage() for r in caplog.records)
    assert [(e["url"], e["requests"], e["outages"], e["state"]) for e in info["endpoints"]] == [
        (dead, 0, 1, "out"), (live.base_url, 40, 0, "in service")]
    assert info["retries"] == 0


@pytest.mark.parametrize("fail_with", ["500", "drop", "timeout", "kill"])
def test_a_server_that_breaks_mid_run_is_taken_out_and_its_requests_retried_elsewhere(fail_with) -> None:
    """It answers 6 chat requests (the identity probe among them), then fails each (500, a dropped
    connection, a timeout: its health probe still passes, so it comes back and fails again) or dies
    (kill: probes fail too, it stays out)."""
    with FaultServer(fault_rate=0.0, fail_after=6, fail_with=fail_with, sleep_s=1.0) as broken, \
            FaultServer(fault_rate=0.0) as s2, FaultServer(fault_rate=0.0) as s3:
        backend = _fleet_backend([broken.base_url, s2.base_url, s3.base_url])
        streamed = []
        outputs = backend.generate(REQUESTS, PARAMS, streamed.append)
        info = backend.info()
        backend.close()
    _assert_each_once(outputs, (broken, s2, s3))
    assert sorted(o.id for o in streamed) == sorted(r.id for r in REQUESTS)
    assert sum(_served(broken).values()) == 5
    first = info["endpoints"][0]
    assert first["failures"] >= 1 and first["outages"] >= 1
    assert info["retries"] == sum(e["failures"] for e in info["endpoints"]) == first["failures"]  # the others never failed
    assert sum(e["requests"] for e in info["endpoints"]) == 40 + first["failures"]
    assert [e["state"] for e in info["endpoints"]][1:] == ["in service", "in service"]
    if fail_with == "kill":
        assert first["state"] == "out" and first["outages"] == 1 and broken.killed


def test_every_server_failing_is_one_line_naming_them() -> None:
    with FaultServer(fault_rate=0.0, fail_after=3) as s1, FaultServer(fault_rate=0.0, fail_after=3) as s2:
        backend = _fleet_backend([s1.base_url, s2.base_url], max_retries=3, concurrency=2)
        with pytest.raises(BackendError) as info:
            backend.generate(REQUESTS, PARAMS)
        backend.close()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("openai backend: request dialog/0000")
    assert f"failed after 4 attempts at every endpoint ({s1.base_url}, {s2.base_url}) (model fault-model); " \
           "last error at http://127.0.0.1:" in message and "InternalServerError (HTTP 500): " in message


def test_no_endpoint_answering_at_start_is_one_line() -> None:
    dead = [f"http://127.0.0.1:{_closed_port()}/v1" for _ in range(2)]
    with pytest.raises(BackendError) as info:
        _fleet_backend(dead)
    message = str(info.value)
    assert "\n" not in message and message.startswith(
        f"openai backend: no endpoint of the fleet answers: {dead[0]} (APIConnectionError: Connection error.); "
        f"{dead[1]} (APIConnectionError")


@pytest.mark.parametrize("odd, expected", [
    (dict(model="other-model"), "does not serve 'fault-model' (it lists other-model): every endpoint must serve --model"),
    (dict(root="/models/other"), "in the root of 'fault-model': '/models/other' vs '/models/fault'"),
    (dict(reply_prefix="Client: "), "in the greedy answer to the probe prompt: 'Client: Name three colours of the "
                                    "rainbow.' vs 'Therapist: echo Name three colours of the rainbow.'"),
])
def test_a_mixed_fleet_is_refused_in_one_line_naming_the_odd_endpoint(odd, expected) -> None:
    with FaultServer(fault_rate=0.0) as s1, FaultServer(fault_rate=0.0, **odd) as s2, \
            FaultServer(fault_rate=0.0) as s3:
        with pytest.raises(ConfigError) as info:
            _fleet_backend([s1.base_url, s2.base_url, s3.base_url])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"mixed fleet: {s2.base_url} ")
    assert expected in message
    if "differs" in message:
        assert f"differs from {s1.base_url} (and 1 other) in" in message


@pytest.mark.parametrize("mixed", [False, True])
def test_a_server_absent_at_start_is_checked_when_it_comes(mixed) -> None:
    port = _closed_port()
    late_url = f"http://127.0.0.1:{port}/v1"
    with FaultServer(fault_rate=0.0) as s1:
        backend = _fleet_backend([s1.base_url, late_url], cooldown=0.0, concurrency=1)
        with FaultServer(fault_rate=0.0, port=port, reply_prefix="Client: " if mixed else "Therapist: echo ") as late:
            outputs = backend.generate(REQUESTS, PARAMS)  # the first routing probes it (its cool-down is 0)
            info = backend.info()
            backend.close()
    _assert_each_once(outputs, (s1, late))
    assert late.served[PROBE] == 1
    late_record = info["endpoints"][1]
    if mixed:
        assert late_record["state"] == "retired" and late_record["requests"] == 0
        assert late_record["retired"].startswith(f"mixed fleet: {late_url} differs from {s1.base_url} in the greedy")
    else:
        assert late_record["state"] == "in service" and sum(_served(late).values()) == late_record["requests"] == 20


# ---- URLs: the flags and the file ----------------------------------------------------------------------

def test_url_file_reads_urls_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "urls.txt"
    path.write_text("# the fleet\nhttp://10.0.0.5:8000/v1\n\n  http://10.0.0.6:8000/v1  # node 2\n")
    assert endpoint_urls(["http://10.0.0.4:8000/v1"], path) == (
        "http://10.0.0.4:8000/v1", "http://10.0.0.5:8000/v1", "http://10.0.0.6:8000/v1")
    assert endpoint_urls("http://h:1/v1") == ("http://h:1/v1",)


@pytest.mark.parametrize("content, expected", [
    (None, "--base-urls-file {path}: no such file"),
    ("# nothing yet\n\n", "{path}: no URL in it (--base-urls-file: one http(s) URL per line, # comments)"),
    ("http://10.0.0.5:8000/v1\n# two\n10.0.0.6:8000\n", "{path}:3: '10.0.0.6:8000' is not an http(s) URL such as "
                                                         "http://127.0.0.1:8000/v1 (--base-urls-file: one URL per "
                                                         "line, # comments)"),
    ("http://10.0.0.5:8000/v1 http://10.0.0.6:8000/v1\n", "{path}:1: 'http://10.0.0.5:8000/v1 http://10.0.0.6:8000/v1' "
                                                          "is not an http(s) URL"),
    ("http://10.0.0.5:8000/v1\nhttp://10.0.0.5:8000/v1/\n", "{path}:2: http://10.0.0.5:8000/v1/ is listed twice "
                                                            "(first: {path}:1); list each server once"),
])
def test_a_bad_url_file_is_one_line_naming_file_and_line(tmp_path: Path, capsys, content, expected) -> None:
    path = tmp_path / "urls.txt"
    if content is not None:
        path.write_text(content)
    code = main(["run", "--backend", "openai", "--model", "m", "--base-urls-file", str(path), "--stage", "generate",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("psybench: error: " + expected.format(path=path))
    assert not (tmp_path / "run").exists()


def test_every_endpoint_silent_is_one_preflight_line(tmp_path: Path, capsys) -> None:
    urls = [f"http://127.0.0.1:{_closed_port()}/v1" for _ in range(2)]
    code = main(["run", "--backend", "openai", "--model", "m", "--base-url", urls[0], "--base-url", urls[1],
                 "--stage", "generate", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"psybench: error: --base-url: no server answers at any of the 2 endpoints "
                                 f"({urls[0]}: Connection refused; {urls[1]}: Connection refused); start them or "
                                 "fix --base-url (checked before generating; nothing was generated)\n")


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]


def test_a_run_on_a_fleet_shares_cache_and_resume_with_one_server(tmp_path: Path, data_dir: Path) -> None:
    """The URL is no part of the model's identity: a run resumes, and the cache serves, on any server set."""
    with FaultServer(fault_rate=0.0) as s1, FaultServer(fault_rate=0.0) as s2, FaultServer(fault_rate=0.0) as s3:
        urls = tmp_path / "urls.txt"
        urls.write_text(f"{s3.base_url}  # third\n")
        out = tmp_path / "fleet"
        code = main(["run", "--backend", "openai", "--model", s1.model, "--base-url", s1.base_url, "--base-url",
                     s2.base_url, "--base-urls-file", str(urls), "--limit", "6", "--max-tokens", "16",
                     "--stage", "generate", "--out", str(out), "--cache", str(tmp_path / "gen.sqlite"),
                     "--data-dir", str(data_dir), "--no-progress"])
        assert code == 0
        records = _records(out)
        assert len(records) == 6 and len({r["id"] for r in records}) == 6
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["config"]["base_url"] == [s1.base_url, s2.base_url]
        assert manifest["config"]["base_urls_file"] == str(urls)
        assert manifest["model_fingerprint"] == "openai:fault-model|root=/models/fault"
        endpoints = manifest["backend_info"]["endpoints"]
        assert [e["url"] for e in endpoints] == [s1.base_url, s2.base_url, s3.base_url]
        assert sum(e["requests"] for e in endpoints) == manifest["counts"]["generated"]
        assert sum(sum(_served(s).values()) for s in (s1, s2, s3)) == manifest["counts"]["generated"]

        # one server alone, another out dir, the same cache: nothing generated
        cfg = dict(model=s1.model, backend="openai", limit=6, max_tokens=16, stage="generate", data_dir=data_dir,
                   cache=tmp_path / "gen.sqlite", progress=False)
        from psybench import runner

        alone = runner.run(RunConfig(base_url=s2.base_url, out=tmp_path / "alone", **cfg))
        assert json.loads((alone / "manifest.json").read_text())["counts"]["generated"] == 0
        outputs = {r["id"]: r["raw_output"] for r in records}
        assert {r["id"]: r["raw_output"] for r in _records(alone)} == outputs

        # the fleet's run cut short, resumed on one server without the cache: the rest is generated there
        lines = (out / "predictions.jsonl").read_text().splitlines(keepends=True)
        (out / "predictions.jsonl").write_text("".join(lines[:4]))
        before = sum(_served(s3).values())
        runner.run(RunConfig(base_url=(s3.base_url,), out=out, use_cache=False, **{**cfg, "cache": None}))
        assert sum(_served(s3).values()) - before == 2
        assert {r["id"]: r["raw_output"] for r in _records(out)} == outputs
