"""Judging throughput of psybench's judge against raw `LLM.chat` on the same judge prompts, ONE engine.

The same judge prompts (the pointwise rubric prompts of the first N gold replies of the English dialog
task, built by psybench.judge) go through (a) `Judge.answer(...)` on the vllm backend, as `psybench judge`
runs it (structured output, answer parsing, repair turns where an answer is unreadable, no cache), and
(b) raw `llm.chat(...)` with the same SamplingParams (same JSON schema) on the same `LLM` object. Prefix
caching is on (a session's judge prompts share its context); the prefix cache is reset before every timed
pass, and the order alternates (A B B A ...) after a warm-up.

    PSYBENCH_DATA_DIR=... python bench/judge_throughput.py [--n 32] [--rounds 2] [--model smollm2]

Prints each pass's wall time and answers, and the ratio judge / raw (target <= 1.10)."""
from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=None, help="judge answer budget (default JUDGE_MAX_TOKENS)")
    args = parser.parse_args()

    from vllm import SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    from psybench.backends import create_backend
    from psybench.constants import JUDGE_MAX_TOKENS
    from psybench.judge.engine import Judge, JudgeSpec
    from psybench.judge.items import items_from_samples
    from psybench.judge.pointwise import item_request
    from psybench.judge.rubric import load_rubric
    from psybench.tasks import build_samples

    max_tokens = args.max_tokens or JUDGE_MAX_TOKENS
    rubric = load_rubric("en")
    items = items_from_samples(build_samples("dialog", "en"), None, limit=args.n)
    requests = [item_request(rubric, item, 0) for item in items]
    chars = sum(len(m["content"]) for r in requests for m in r.messages) / max(1, len(requests))
    print(f"{len(requests)} judge prompts (rubric {rubric.sha256[:12]}, {chars:.0f} chars on average), "
          f"max_tokens {max_tokens}, greedy, JSON schema; load average {os.getloadavg()}", flush=True)
    t0 = time.perf_counter()
    backend = create_backend("vllm", args.model, dtype=args.dtype, max_model_len=args.max_model_len)
    print(f"engine start {time.perf_counter() - t0:.1f}s", flush=True)
    llm = backend._llm
    spec = JudgeSpec.parse(args.model, "vllm", {"dtype": args.dtype, "max_model_len": args.max_model_len})

    def judged() -> tuple[float, int, int]:
        judge = Judge(spec, rubric, use_cache=False, max_tokens=max_tokens, backend=backend)
        answers = []
        start = time.perf_counter()
        judge.answer(requests, answers.append)
        elapsed = time.perf_counter() - start
        calls = judge.tally.calls
        judge.close()
        return elapsed, calls, sum(a.value is None for a in answers)

    def raw() -> tuple[float, int, int]:
        sampling = [SamplingParams(temperature=0.0, max_tokens=max_tokens, structured_outputs=StructuredOutputsParams(
            json=r.schema)) for r in requests]
        start = time.perf_counter()
        outs = llm.chat([list(r.messages) for r in requests], sampling, use_tqdm=False)
        return time.perf_counter() - start, len(outs), 0

    llm.reset_prefix_cache()
    print(f"warm-up judge pass: {judged()[0]:.1f}s", flush=True)
    totals = {"judge": 0.0, "raw": 0.0}
    for round_ in range(args.rounds):
        order = ("raw", "judge") if round_ % 2 == 0 else ("judge", "raw")
        for name in order:
            llm.reset_prefix_cache()
            elapsed, calls, invalid = (judged if name == "judge" else raw)()
            totals[name] += elapsed
            print(f"round {round_ + 1} {name:<5} {elapsed:7.1f}s  calls {calls}  invalid {invalid}", flush=True)
    ratio = totals["judge"] / totals["raw"]
    print(json.dumps({"n": len(requests), "judge_s": round(totals["judge"], 1), "raw_s": round(totals["raw"], 1),
                      "ratio_judge_over_raw": round(ratio, 3), "target": 1.10}))
    backend.close()


if __name__ == "__main__":
    main()
