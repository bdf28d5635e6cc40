"""CLI sub-commands; each module exposes register(subparsers). Shared flag helpers live here."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from psybench.paths import DATA_DIR_ENV


def add_data_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"directory with the Psy-Insight v7 files (default: ${DATA_DIR_ENV}, then the "
                             "cache filled by `psybench data fetch`)")
    parser.add_argument("--strict", action="store_true",
                        help="treat a checksum mismatch of the data files as an error")


def env_data_dir() -> Path | None:
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value) if value else None
