"""`psybench data fetch`: download the pinned Psy-Insight v7 files into the cache, checking sha256.
Only the two data files come from upstream; the split id lists ship with psybench (psybench/data/splits)."""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from psybench.constants import DATA_FILES, UPSTREAM_RAW
from psybench.data.loader import data_cache_dir
from psybench.errors import DataError, MissingResourceError
from psybench.paths import DATA_DIR_ENV

FETCH_TIMEOUT_S = 30


def fetch_data(dest: Path | None = None, base_url: str = UPSTREAM_RAW, timeout: float = FETCH_TIMEOUT_S) -> list[Path]:
    """Download every file of DATA_FILES into dest (default: the cache) and verify it; returns paths.
    A file already there with the right checksum is kept; a wrong download is never left in place."""
    dest = Path(dest) if dest is not None else data_cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    done = []
    for fname, expected in DATA_FILES.values():
        target = dest / fname
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
            done.append(target)
            continue
        url = f"{base_url.rstrip('/')}/{fname}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - pinned https URL
                blob = response.read()
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise MissingResourceError(
                f"could not reach {url} ({reason}): copy the Psy-Insight v7 files to a directory and pass "
                f"--data-dir DIR or set {DATA_DIR_ENV}") from None
        digest = hashlib.sha256(blob).hexdigest()
        if digest != expected:
            raise DataError(f"{fname}: downloaded from {url} with sha256 {digest}, expected {expected}; "
                            "not saved")
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(blob)
        os.replace(partial, target)
        done.append(target)
    return done
