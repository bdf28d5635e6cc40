"""WordNet 3.0 for NLTK's METEOR, offline: an NLTK data folder that already has it, else Debian's
`wordnet-base` database (+ `wordnet-sense-index`: NLTK 3.10 reads index.sense on load) plus the
`lexnames` file shipped with psybench (Debian lacks it), COPIED
(NLTK 3.10 rejects symlinks that leave its data root) into psybench's cache. No fallback: METEOR
without WordNet synonyms is a different metric."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from psybench.errors import MissingResourceError
from psybench.paths import cache_subdir

DEBIAN_WORDNET = Path("/usr/share/wordnet")
LEXNAMES = Path(__file__).with_name("wordnet_lexnames")
_NEEDED = ("lexnames", "data.noun", "index.noun", "data.verb", "index.verb", "data.adj", "index.adj",
           "data.adv", "index.adv", "noun.exc", "verb.exc", "adj.exc", "adv.exc", "index.sense")
_MISSING = ("WordNet 3.0 not found: apt-get install wordnet-base wordnet-sense-index, or python -m nltk.downloader "
            "wordnet")
_found: Path | None = None  # per-process cache


def _nltk_root_with_wordnet() -> Path | None:
    import nltk

    for root in nltk.data.path:
        base = Path(root) / "corpora"
        if (base / "wordnet" / "index.sense").is_file() or (base / "wordnet.zip").is_file():
            return Path(root)
    return None


def _assemble(debian: Path) -> Path:
    root = cache_subdir("nltk_data")
    target = root / "corpora" / "wordnet"
    if target.is_dir() and not (target / "index.sense").is_file():  # an incomplete older build
        shutil.rmtree(target, ignore_errors=True)
    if (target / "index.sense").is_file():
        return root
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet.", dir=target.parent))
    os.chmod(tmp, 0o755)
    try:
        for item in debian.iterdir():
            if item.is_file():
                shutil.copyfile(item, tmp / item.name)
        shutil.copyfile(LEXNAMES, tmp / "lexnames")
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race
            if not (target / "index.sense").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def ensure_wordnet(debian_dir: Path = DEBIAN_WORDNET) -> Path:
    """Return the NLTK data root holding corpora/wordnet (WordNet 3.0), adding it to nltk.data.path."""
    global _found
    if _found is not None:
        return _found
    import nltk

    root = _nltk_root_with_wordnet()
    if root is None:
        if not all((debian_dir / f).is_file() for f in _NEEDED if f != "lexnames"):
            raise MissingResourceError(_MISSING)
        root = _assemble(debian_dir)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    _found = root
    return root
