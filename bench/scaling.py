"""Throughput of one plain vLLM engine against `--executor ray` with 1 and N replicas, same prompts,
same script, one run.

The prompts are task-1 dialogue samples built by psybench.tasks from the Psy-Insight data (the n
shortest, so a CPU finishes). Every engine is warmed up on a few prompts first. The plain engine and the
one-replica Ray executor are both kept up and timed in turns (A B B A ...), so a neighbour's load on a
shared machine falls on both; then the one replica goes and N replicas are timed. Prefix caching is off
everywhere: each request is computed from scratch, so the outputs must be identical across all three.

    PSYBENCH_DATA_DIR=... python bench/scaling.py [--n 64] [--max-tokens 32] [--replicas 2] [--rounds 2]
        [--model smollm2] [--ray-address local]

Prints each pass, the throughputs, the overhead ratio ray(1) / plain (target <= 1.10) and N replicas
against one. On a CPU machine the N replicas share its cores: report that as a correctness run, not as
scaling (on GPUs the target is N replicas >= 0.9 x N the throughput of one)."""
from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="number of prompts")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=2, help="N for the many-replica pass")
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds of plain vs one replica, order alternating")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--dtype", default="float32", help="float32 on CPU: bf16 is emulated and very slow there")
    parser.add_argument("--max-model-len", type=int, default=2048)
    parser.add_argument("--tensor-parallel-size", type=int, default=1)
    parser.add_argument("--ray-address", default="local", help="local: a Ray started here, loopback only")
    args = parser.parse_args()

    from psybench.assets.chat_models import resolve_chat_model
    from psybench.backends import create_backend
    from psybench.executors.ray_executor import RayExecutor, connect
    from psybench.records import GenerationParams, Request
    from psybench.tasks import build_samples

    every = build_samples("dialog", "en")
    samples = sorted(every, key=lambda s: (sum(len(m["content"]) for m in s.messages), s.id))[:args.n]
    requests = [Request(s.id, s.messages) for s in samples]
    warmup = [Request(f"warm-{r.id}", r.messages) for r in requests[:4]]
    params = GenerationParams(max_tokens=args.max_tokens)
    model = str(resolve_chat_model(args.model))
    options = dict(dtype=args.dtype, max_model_len=args.max_model_len, prefix_caching=False,
                   tensor_parallel_size=args.tensor_parallel_size)
    print(f"{len(requests)} prompts (task dialog, en, shortest), max_tokens {args.max_tokens}, greedy, prefix caching "
          f"off, model {model}; {os.cpu_count()} CPUs, load average at start {os.getloadavg()}", flush=True)

    def timed(engine, label: str) -> dict:
        start = time.perf_counter()
        outputs = engine.generate(requests, params)
        wall = time.perf_counter() - start
        tokens = sum(o.completion_tokens for o in outputs)
        print(f"  {label:<10} {wall:7.2f}s  {len(outputs) / wall:6.2f} samples/s  {tokens / wall:7.1f} tokens/s",
              flush=True)
        return {"wall": wall, "tokens": tokens, "texts": [o.text for o in outputs]}

    def started(make, label: str):
        t0 = time.perf_counter()
        engine = make()
        engine.generate(warmup, params)
        print(f"{label}: started and warmed up in {time.perf_counter() - t0:.1f}s", flush=True)
        return engine

    ray, owns, address = connect(args.ray_address)  # one Ray for the whole bench; the executors join it
    print(f"ray {ray.__version__} at {address}: {ray.cluster_resources()}", flush=True)
    plain = started(lambda: create_backend("vllm", model, **options), "plain engine")
    one = started(lambda: RayExecutor("vllm", model, options, replicas=1), "ray, 1 replica")
    passes: dict[str, list[dict]] = {"plain": [], "ray x1": []}
    for round_number in range(args.rounds):
        order = [("plain", plain), ("ray x1", one)]
        for label, engine in order if round_number % 2 == 0 else reversed(order):
            passes[label].append(timed(engine, label))
    plain.close()
    one.close()
    many = started(lambda: RayExecutor("vllm", model, options, replicas=args.replicas), f"ray, {args.replicas} replicas")
    label_n = f"ray x{args.replicas}"
    passes[label_n] = [timed(many, label_n) for _ in range(max(1, args.rounds // 2))]
    spread = many.info()["ray"]["samples_per_replica"]
    gpus = ray.cluster_resources().get("GPU", 0)
    many.close()
    if owns:
        ray.shutdown()

    def throughput(label: str) -> float:
        return sum(p["tokens"] for p in passes[label]) / sum(p["wall"] for p in passes[label])

    reference = passes["plain"][0]["texts"]
    identical = {label: all(p["texts"] == reference for p in runs) for label, runs in passes.items()}
    overhead = (sum(p["wall"] for p in passes["ray x1"]) / sum(p["wall"] for p in passes["plain"]))
    summary = {"prompts": len(requests), "max_tokens": args.max_tokens,
               "tokens_per_s": {label: round(throughput(label), 1) for label in passes},
               "overhead_ray1_over_plain": round(overhead, 3), "target_overhead": 1.10,
               f"ray_x{args.replicas}_over_ray_x1": round(throughput(label_n) / throughput("ray x1"), 3),
               "samples_per_replica": spread, "outputs_identical_to_plain": identical}
    print(json.dumps(summary, indent=1))
    if not gpus:
        print(f"no GPUs: the {args.replicas} replicas share {os.cpu_count()} CPU cores, so x{args.replicas} is a "
              "correctness run, not scaling.")


if __name__ == "__main__":
    main()
