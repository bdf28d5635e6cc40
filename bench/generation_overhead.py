"""Generation overhead of psybench's vllm backend against raw `LLM.chat`, on ONE engine.

The same prompts (task-1 dialogue samples built by psybench.tasks from the Psy-Insight data) go
through (a) `backend.generate(...)` with an `on_output` that appends each Output to a JSONL file,
as the runner does (context fitting, chunked submission, Output records included), and (b) raw
`llm.chat(...)` on the same `LLM` object. Warm-up first, then the order alternates (A B B A ...);
the prefix cache is reset before every timed pass so no pass reuses another's prefill.

    PSYBENCH_DATA_DIR=... python bench/generation_overhead.py [--n 240] [--max-tokens 32]
        [--rounds 2] [--chunk-size 256] [--small-chunk 64] [--select shortest|first]
        [--model smollm2]

Prints each pass's wall time, the totals and the ratio psybench / raw (target <= 1.10)."""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=240, help="number of prompts (>= 200 for the report)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds; each round runs both, order alternating")
    parser.add_argument("--chunk-size", type=int, default=256, help="the backend's submission chunk")
    parser.add_argument("--small-chunk", type=int, default=0, help="also time one pass with this chunk size")
    parser.add_argument("--select", choices=("shortest", "first"), default="shortest",
                        help="which samples of task dialog: the n shortest prompts (CPU-friendly) or the first n")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--dtype", default="float32", help="float32 on CPU: bf16 is emulated and very slow here")
    parser.add_argument("--max-model-len", type=int, default=4096)
    args = parser.parse_args()

    from psybench.backends import create_backend
    from psybench.records import GenerationParams, Request
    from psybench.tasks import build_samples

    if args.select == "first":
        samples = build_samples("dialog", "en", limit=args.n)
    else:  # the same prompts every run: shortest first, ties by id
        every = build_samples("dialog", "en")
        samples = sorted(every, key=lambda s: (sum(len(m["content"]) for m in s.messages), s.id))[:args.n]
    requests = [Request(s.id, s.messages) for s in samples]
    params = GenerationParams(max_tokens=args.max_tokens)
    chars = sum(len(m["content"]) for r in requests for m in r.messages) / max(1, len(requests))
    print(f"{len(requests)} prompts (task dialog, en, {args.select}, {chars:.0f} chars on average), max_tokens {args.max_tokens}, greedy; "
          f"load average at start {os.getloadavg()}", flush=True)

    t0 = time.perf_counter()
    backend = create_backend("vllm", args.model, dtype=args.dtype, max_model_len=args.max_model_len,
                             chunk_size=args.chunk_size)
    print(f"engine start {time.perf_counter() - t0:.1f}s; {json.dumps(backend.info())}", flush=True)
    llm = backend._llm  # the same engine for both paths
    from vllm import SamplingParams

    raw_params = SamplingParams(temperature=0.0, max_tokens=args.max_tokens)
    raw_messages = [list(r.messages) for r in requests]
    out_dir = tempfile.mkdtemp(prefix="psybench-overhead-")

    def run_psybench(chunk: int) -> tuple[float, list[str]]:
        backend.chunk_size = chunk
        path = os.path.join(out_dir, f"pred-{time.monotonic_ns()}.jsonl")
        with open(path, "w", encoding="utf-8") as handle:
            def on_output(output) -> None:
                handle.write(json.dumps(output.__dict__, ensure_ascii=False) + "\n")
                handle.flush()

            llm.reset_prefix_cache()
            start = time.perf_counter()
            outputs = backend.generate(requests, params, on_output)
            wall = time.perf_counter() - start
        backend.chunk_size = args.chunk_size
        return wall, [o.text for o in outputs]

    def run_raw() -> tuple[float, list[str]]:
        llm.reset_prefix_cache()
        start = time.perf_counter()
        outputs = llm.chat(raw_messages, raw_params, use_tqdm=False)
        return time.perf_counter() - start, [o.outputs[0].text for o in outputs]

    warm = time.perf_counter()
    llm.chat(raw_messages[:16], raw_params, use_tqdm=False)
    backend.generate(requests[:16], params)
    print(f"warm-up {time.perf_counter() - warm:.1f}s", flush=True)

    times = {"psybench": [], "raw": []}
    texts = {}
    for round_index in range(args.rounds):
        order = ("psybench", "raw") if round_index % 2 == 0 else ("raw", "psybench")
        for name in order:
            wall, got = run_psybench(args.chunk_size) if name == "psybench" else run_raw()
            times[name].append(wall)
            texts.setdefault(name, got)
            print(f"round {round_index + 1} {name:9s} {wall:8.2f}s  load {os.getloadavg()[0]:.2f}", flush=True)
    small = None
    if args.small_chunk:
        small, _ = run_psybench(args.small_chunk)
        print(f"psybench with chunk_size {args.small_chunk}: {small:.2f}s", flush=True)

    same = sum(a == b for a, b in zip(texts["psybench"], texts["raw"]))
    total_p, total_r = sum(times["psybench"]), sum(times["raw"])
    print(f"\npsybench backend: {total_p:.2f}s over {args.rounds} passes ({total_p / args.rounds:.2f}s/pass)")
    print(f"raw LLM.chat:     {total_r:.2f}s over {args.rounds} passes ({total_r / args.rounds:.2f}s/pass)")
    print(f"ratio psybench/raw: {total_p / total_r:.3f}  (target <= 1.10)")
    if small is not None:
        print(f"chunk_size {args.small_chunk} vs raw: {small / (total_r / args.rounds):.3f}")
    print(f"identical greedy texts: {same}/{len(requests)}; load average at end {os.getloadavg()}")
    backend.close()


if __name__ == "__main__":  # vLLM workers spawn: the guard is required
    main()
