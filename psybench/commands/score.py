"""`psybench score`: score a predictions file (lines {"id", "prediction", "reference", ...}).

    psybench score PREDICTIONS.jsonl --lang en|zh [--mode corrected|paper|both] [--bertscore-model M
        --bertscore-layer L] [--allow-lang-mismatch] [--bootstrap N] --out DIR

Writes DIR/scores.jsonl (per sample) and DIR/results.json (per task: metrics with 95% bootstrap CIs),
and prints a table. Records with a `task` are scored per task; `paper_prediction`/`paper_status` feed
paper mode (samples with paper_status "no_marker" are left out of it and counted, as the authors did)."""
from __future__ import annotations

import argparse
from pathlib import Path

from psybench.constants import BOOTSTRAP_RESAMPLES, METRIC_MODES


def register(subparsers) -> None:
    p = subparsers.add_parser("score", help="score a predictions JSONL file (paper and/or corrected metrics)",
                              description=__doc__.split("\n\n")[1] if __doc__ else None,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("predictions", type=Path, help="JSONL file, one {id, prediction, reference} per line")
    p.add_argument("--lang", required=True, choices=("en", "zh"))
    p.add_argument("--mode", default="corrected", choices=(*METRIC_MODES, "both"),
                   help="metric mode: corrected (default; textbook), paper (the authors' computation), both")
    p.add_argument("--bertscore-model", default=None,
                   help="encoder: minilm, mpnet, e5 (packaged), roberta-large / bert-base-chinese (the paper's, "
                        "default when available), or a local HF folder")
    p.add_argument("--bertscore-layer", type=int, default=None, help="BERTScore layer (required for a local folder)")
    p.add_argument("--no-bertscore", action="store_true", help="skip BERTScore (n-gram metrics only)")
    p.add_argument("--no-reference-cache", action="store_true",
                   help="encode the references again instead of reading their BERTScore embeddings from the cache")
    p.add_argument("--metrics", default=None, metavar="NAMES",
                   help="comma-separated generation metrics (default: Table 5's, bertscore,bleu,meteor,rouge,"
                        "distinct; `psybench metrics` lists all, e.g. chrf)")
    p.add_argument("--allow-lang-mismatch", action="store_true",
                   help="allow an English-only encoder on Chinese (the paper used roberta-large for both)")
    p.add_argument("--bootstrap", type=int, default=BOOTSTRAP_RESAMPLES, metavar="N",
                   help=f"bootstrap resamples for the 95%% CIs (default {BOOTSTRAP_RESAMPLES}; 0 = none)")
    p.add_argument("--device", default="auto", help="encoder device: auto (default), cpu, cuda")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.set_defaults(func=handle)


def parse_metrics(text: str | None) -> tuple[str, ...] | None:
    """--metrics a,b -> ("a", "b"), checked against the registry (unknown: an error listing the known)."""
    if text is None:
        return None
    from psybench.errors import ConfigError
    from psybench.metrics import select_metrics

    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError("--metrics is empty: name at least one metric (see `psybench metrics`)")
    select_metrics(names)
    return names


def handle(args: argparse.Namespace) -> int:
    from psybench.errors import ConfigError
    from psybench.metrics import MetricSettings, read_predictions, score_records, write_scores

    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap {args.bootstrap}: must be >= 0")
    modes = tuple(METRIC_MODES) if args.mode == "both" else (args.mode,)
    metrics = parse_metrics(args.metrics)
    settings = MetricSettings(metrics=metrics, reference_cache=not args.no_reference_cache, modes=modes, bertscore_model=args.bertscore_model,
                              bertscore_layer=args.bertscore_layer, allow_lang_mismatch=args.allow_lang_mismatch,
                              bertscore=not args.no_bertscore, device=args.device,
                              bootstrap_resamples=args.bootstrap)
    records = read_predictions(args.predictions, args.lang)
    lines, results = score_records(records, args.lang, settings, source=str(args.predictions))
    scores_path, results_path = write_scores(args.out, lines, results, settings,
                                             extra={"source": str(args.predictions)})
    from psybench.report.summary import results_table

    results_table({"tasks": results})
    print(f"wrote {scores_path} and {results_path}")
    return 0
