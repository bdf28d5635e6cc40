"""`psybench data check|fetch`: inspect the Psy-Insight files, or download them."""
from __future__ import annotations

import argparse
import json
import sys

from psybench.commands import add_data_dir_arg
from psybench.constants import LANGS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="check or fetch the Psy-Insight data")
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate the data and print its counts, anomalies and splits")
    check.add_argument("--lang", choices=(*LANGS, "all"), default="all")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    add_data_dir_arg(check)
    check.set_defaults(func=_check)
    fetch = sub.add_parser("fetch", help="download the pinned v7 files into the cache (sha256 checked)")
    fetch.add_argument("--dest", default=None, help="directory to download into (default: the psybench cache)")
    fetch.add_argument("--base-url", default=None,
                       help="a mirror of the upstream data folder (default: the pinned GitHub raw URL)")
    fetch.set_defaults(func=_fetch)


def _check(args: argparse.Namespace) -> int:
    from psybench.data import data_report

    langs = LANGS if args.lang == "all" else (args.lang,)
    reports = {lang: data_report(lang, args.data_dir, strict=args.strict) for lang in langs}
    if args.json:
        json.dump(reports, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        _print_tables(reports)
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from psybench.constants import UPSTREAM_RAW
    from psybench.data.fetch import fetch_data

    for path in fetch_data(args.dest, base_url=args.base_url or UPSTREAM_RAW):
        print(f"ok {path}")
    print("The split id lists (table5, released) ship with psybench; no download needed.")
    return 0


COUNT_ROWS = (
    "sessions", "turns", "seeker_turns", "supporter_turns", "supporter_turns_with_reasoning",
    "seeker_turns_with_observation", "sessions_starting_with_therapist", "consecutive_same_speaker_pairs",
    "adjacent_duplicate_turns", "overlapping_session_pairs", "max_shared_turns", "sessions_without_topic",
    "sessions_without_psychotherapy", "seeker_turns_2_emotions", "seeker_turns_5plus_emotions",
    "unknown_with_other_emotions",
)


def _print_tables(reports: dict[str, dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)  # full hashes in pipes and logs
    langs = list(reports)

    def table(title: str, rows: list[tuple[str, list]]) -> None:
        t = Table(title=title, title_justify="left")
        t.add_column("")
        for lang in langs:
            t.add_column(lang, justify="right")
        for name, values in rows:
            t.add_row(name, *("" if v is None else str(v) for v in values))
        console.print(t)

    table("Psy-Insight v7", [("file", [r["file"] for r in reports.values()]),
                             ("sha256 ok", [r["checksum_ok"] for r in reports.values()])]
          + [(key.replace("_", " "), [r[key] for r in reports.values()]) for key in COUNT_ROWS])
    for kind in ("emotion", "strategy", "topic", "psychotherapy"):
        names = list(dict.fromkeys(n for r in reports.values() for n in r["labels"][kind]))
        table(f"{kind} labels", [(n, [r["labels"][kind].get(n, 0) for r in reports.values()]) for n in names])
    norm_keys = sorted({k for r in reports.values() for k in r["normalisations"]["changes"]})
    extra = [("unknown labels", [sum(sum(c.values()) for c in r["normalisations"]["unknown_labels"].values())
                                 for r in reports.values()]),
             ("off-role annotations ignored",
              [sum(r["normalisations"]["off_role_annotations_ignored"].values()) for r in reports.values()])]
    table("normalisations applied", [(k, [r["normalisations"]["changes"].get(k, 0) for r in reports.values()])
                                     for k in norm_keys] + extra)
    odd = list(next(iter(reports.values()))["content_oddities"])
    table("content oddities (counted, not changed)", [(k.replace("_", " "), [r["content_oddities"][k]
                                                      for r in reports.values()]) for k in odd])
    split_names = list(dict.fromkeys(n for r in reports.values() for n in r["splits"]))
    t = Table(title="splits", title_justify="left")
    for col in ("split", "lang", "test", "train", "excluded", "content hash"):
        t.add_column(col)
    for name in split_names:
        for lang, r in reports.items():
            if name in r["splits"]:
                s = r["splits"][name]
                t.add_row(name, lang, str(s["test"]), str(s["train"]), str(s["excluded"]), s["content_hash"])
    console.print(t)
