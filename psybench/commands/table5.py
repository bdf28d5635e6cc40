"""`psybench table5`: the paper's Table 5 beside psybench's numbers (table5.md, table5.csv).

    psybench table5 --checkpoint mistral-base=PATH [--checkpoint ROW=MODEL ...] --out DIR   (runs them)
    psybench table5 --from-runs runs/A runs/B [--row ROW=runs/X ...] --out DIR              (finished runs)

English rows run on the `table5` split (the authors' 81 test rows) with their turns (last/all); the
Chinese RAG rows on the `seeded` zh split, since Table 5's split is English-only."""
from __future__ import annotations

import argparse
from pathlib import Path

from psybench.commands import add_data_dir_arg, env_data_dir
from psybench.errors import ConfigError


def _pair(text: str, flag: str) -> tuple[str, str]:
    row, sep, value = text.partition("=")
    if not sep or not row or not value:
        raise ConfigError(f"{flag} {text!r}: expected ROW=VALUE, e.g. mistral-base=/models/mistral")
    return row.strip(), value.strip()


def register(subparsers) -> None:
    from psybench.constants import TABLE5_ROWS

    p = subparsers.add_parser("table5", help="Table 5 of the paper beside psybench's numbers",
                              description=__doc__.split("\n\n")[1] if __doc__ else None,
                              formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog="rows: " + ", ".join(TABLE5_ROWS))
    p.add_argument("--checkpoint", action="append", default=[], metavar="ROW=MODEL",
                   help="run this model for this Table 5 row (repeatable)")
    p.add_argument("--from-runs", nargs="+", type=Path, default=[], metavar="RUN",
                   help="build the table from finished runs (mapped to rows by name or task/turns/lang)")
    p.add_argument("--row", action="append", default=[], metavar="ROW=RUN", help="map a finished run to a row")
    p.add_argument("--backend", default="vllm", choices=("vllm", "openai", "hf", "replay"))
    p.add_argument("--limit", type=int, default=None, help="at most N samples per row (a quick look)")
    p.add_argument("--decoding", default="greedy", choices=("greedy", "paper"),
                   help="greedy (default) or the paper's sampling (temperature 0.7, top_p 0.5, 512 tokens)")
    p.add_argument("--max-tokens", type=int, default=None, help="generation limit (default: the task's)")
    p.add_argument("--bertscore-model", default=None, help="encoder (default: the paper's when available)")
    p.add_argument("--out", type=Path, default=Path("table5"), help="output directory (default: table5/)")
    add_data_dir_arg(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from psybench.report import table5

    checkpoints = dict(_pair(c, "--checkpoint") for c in args.checkpoint)
    explicit = dict(_pair(r, "--row") for r in args.row)
    if checkpoints and (args.from_runs or explicit):
        raise ConfigError("--checkpoint runs models; --from-runs/--row read finished runs: use one or the other")
    if checkpoints:
        mapping = run_table5_grid(checkpoints, args.out, backend=args.backend, limit=args.limit,
                                         decoding=args.decoding, bertscore_model=args.bertscore_model,
                                         data_dir=args.data_dir or env_data_dir(), strict=args.strict,
                                         max_tokens=args.max_tokens)
    else:
        mapping = table5.map_runs(args.from_runs, explicit)
    md_path, csv_path = table5.write_table5(table5.build_table5(mapping), args.out)
    filled = ", ".join(f"{row}={rr.run.path}" for row, rr in mapping.items()) or "none (paper values only)"
    print(f"{md_path}\n{csv_path}\nrows with psybench numbers: {filled}")
    return 0


def run_table5_grid(checkpoints: dict[str, str], out_dir: Path, backend: str = "vllm", limit: int | None = None,
                    decoding: str = "greedy", bertscore_model: str | None = None,
                    data_dir: Path | None = None, **run_options) -> dict:
    """Run every row that has a checkpoint (both metric modes) into out_dir/runs/table5-ROW."""
    from psybench.report import table5
    from psybench.runfiles import load_run
    from psybench.runner import RunConfig, run

    for row_id in checkpoints:
        table5.row_spec(row_id)  # fail on a bad row id before any generation
    mapping = {}
    for row_id, model in checkpoints.items():
        row = table5.TABLE5_ROWS[row_id]
        config = RunConfig(model=model, backend=backend, tasks=(row["task"],), lang=row["lang"],
                           split=table5.ROW_SPLIT[row["lang"]], turns=row["turns"], prompt_style="paper", limit=limit,
                           decoding=decoding, modes=table5.MODES, bertscore_model=bertscore_model,
                           out=Path(out_dir) / "runs" / f"table5-{row_id}", data_dir=data_dir, **run_options)
        mapping[row_id] = table5.check_fits(row_id, load_run(run(config)))
    return mapping
