"""The openai backend: against a loopback fault-injecting server (fast) and against vLLM's real
OpenAI-compatible server on 127.0.0.1 (slow)."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from psybench.backends import create_backend
from psybench.errors import BackendError
from psybench.records import GenerationParams, Request
from tests.fault_server import FaultServer, reply_text

REQUESTS = [Request(f"dialog/{i:06d}/1", ({"role": "user", "content": f"I feel tense, day {i}."},))
            for i in range(40)]


def _backend(server, **options):
    options = {"concurrency": 6, "max_retries": 8, "timeout": 0.5, "backoff_base": 0.01, "backoff_cap": 0.05,
               **options}
    return create_backend("openai", server.model, base_url=server.base_url, **options)


def test_faults_are_retried_and_every_sample_arrives(caplog):
    caplog.set_level(logging.WARNING, logger="psybench.backends.openai")
    with FaultServer(fault_rate=0.1, sleep_s=1.0) as server:
        backend = _backend(server)
        streamed = []
        outputs = backend.generate(REQUESTS, GenerationParams(max_tokens=8), streamed.append)
        backend.close()
    assert [o.id for o in outputs] == [r.id for r in REQUESTS]
    assert [o.text for o in outputs] == [reply_text(list(r.messages)) for r in REQUESTS]
    assert sorted(o.id for o in streamed) == sorted(r.id for r in REQUESTS)
    assert {o.finish_reason for o in outputs} == {"stop"}
    injected = sum(n for fault, n in server.counts.items() if fault != "ok")
    assert all(server.counts[f] > 0 for f in ("500", "429", "timeout", "drop")), server.counts
    assert server.counts["ok"] == len(REQUESTS)
    retry_lines = [r for r in caplog.records if "retry" in r.getMessage()]
    assert backend.retries == injected == len(retry_lines)


def test_always_failing_server_raises_one_line_backend_error():
    with FaultServer(fault_rate=1.0, faults=("500",)) as server:
        backend = _backend(server, max_retries=2, concurrency=2)
        with pytest.raises(BackendError) as info:
            backend.generate(REQUESTS[:4], GenerationParams(max_tokens=8))
        backend.close()
    message = str(info.value)
    assert "\n" not in message
    assert "failed after 3 attempts" in message and "HTTP 500" in message and "dialog/0000" in message


def test_api_key_never_in_info_and_fingerprint_names_the_model_not_the_server(monkeypatch):
    monkeypatch.setenv("PSYBENCH_API_KEY", "sk-secret-123")
    with FaultServer(fault_rate=0.0) as server:
        backend = _backend(server)
        info, fingerprint = backend.info(), backend.fingerprint()
        backend.close()
    assert "sk-secret-123" not in repr(info) + fingerprint
    assert fingerprint == "openai:fault-model|root=/models/fault"  # served anywhere: the same cache and resume
    assert info["endpoints"] == [{"url": server.base_url, "requests": 0, "failures": 0, "outages": 0,
                                  "state": "in service", "last_error": None, "retired": None}]


# ---- vLLM's real OpenAI-compatible server ------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    from psybench.assets.chat_models import smollm2_dir

    model = str(smollm2_dir())
    port = _free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
           "VLLM_HOST_IP": "127.0.0.1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
    log_path = tmp_path_factory.mktemp("vllm_server") / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                                 "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--dtype", "float32",
                                 "--max-model-len", "2048", "--served-model-name", "smollm2"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited early: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("vLLM server not ready in 300 s")
            time.sleep(1)
        yield base + "/v1", model
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_openai_backend_against_real_vllm_server(vllm_server):
    base_url, model_dir = vllm_server
    backend = create_backend("openai", "smollm2", base_url=base_url, concurrency=4, timeout=120,
                             tokenizer=model_dir, max_model_len=2048)
    requests = [Request(f"r{i}", ({"role": "system", "content": "You are a kind counsellor."},
                                  {"role": "user", "content": f"I could not sleep for {i + 2} nights."}))
                for i in range(6)]
    outputs = backend.generate(requests, GenerationParams(max_tokens=16))
    again = backend.generate(requests[:2], GenerationParams(max_tokens=16))
    assert backend.fingerprint() == f"openai:smollm2|root={model_dir}"
    backend.close()
    assert [o.id for o in outputs] == [r.id for r in requests]
    for output in outputs:
        assert output.finish_reason in ("stop", "length")
        assert 0 < output.completion_tokens <= 16
        assert (output.completion_tokens == 16) == (output.finish_reason == "length")
        assert output.text.strip()
    assert [o.text for o in again] == [o.text for o in outputs[:2]]  # greedy: same text twice
