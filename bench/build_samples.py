"""Benchmark: build every sample of every task (both languages where defined, seeded split,
turns=all, both prompt styles) in a fresh process, data loading and splitting included.

    PSYBENCH_DATA_DIR=DIR python bench/build_samples.py [--data-dir DIR] [--split seeded]

Target (issue 2): under 2 s on the 2-core CPU machine."""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--split", default="seeded")
    args = parser.parse_args()
    start = time.perf_counter()
    from psybench.tasks import build_samples_with_report, list_tasks

    rows = []
    for spec in list_tasks():
        if spec.builder not in ("dialogue", "classification"):
            continue  # retrieval tasks need an embedding model: benchmarked elsewhere
        for lang in spec.langs:
            for style in ("paper", "clean"):
                t0 = time.perf_counter()
                samples, report = build_samples_with_report(spec.name, lang, args.split, "all", style,
                                                            data_dir=args.data_dir)
                rows.append((spec.name, lang, style, len(samples), sum(report.skipped.values()),
                             time.perf_counter() - t0))
    total = time.perf_counter() - start
    print(f"{'task':<14} {'lang':<4} {'style':<6} {'samples':>8} {'skipped':>8} {'seconds':>8}")
    for name, lang, style, n, skipped, seconds in rows:
        print(f"{name:<14} {lang:<4} {style:<6} {n:>8} {skipped:>8} {seconds:>8.3f}")
    print(f"total: {sum(r[3] for r in rows)} samples in {len(rows)} builds, {total:.2f} s "
          f"(split={args.split}, turns=all, data loading included)")


if __name__ == "__main__":
    main()
