"""Session retrieval for task 4 (RAG): a dense index over the TRAINING sessions of a split, and
top-k similar sessions for a query. Design and every choice: docs/RAG.md.

- Passages: each training session is cut into windows of `chunk_turns` consecutive turns; a passage
  is the session background plus that window (roles written "Client:"/"Therapist:", never names).
- Embeddings: sentence-transformers, L2-normalised, float32; cosine similarity = one matrix product.
  A session's score is the best score of its passages (max-pooling), and the best passage is the
  excerpt the prompt shows.
- Leakage: only `split.train_ids` are indexed; at query time the evaluated session and every session
  in its overlap group (data.splits.overlap_groups: shares a turn) are masked again (defence in depth).
- Cache: `paths.cache_subdir("indexes")/<key>.npz`, key = sha256 over the exact texts embedded, the
  split content hash, the model name and weights fingerprint, and the index parameters; atomic write.
  Query embeddings are cached the same way (`queries-<key>.npz`).
- Determinism: every encoder call has one fixed input shape (see ENCODE_BATCH), so a text's embedding,
  its stored scores and its ranks do not depend on --limit, on the other texts, or on the cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from psybench.errors import ConfigError, MissingResourceError
from psybench.paths import cache_subdir
from psybench.records import Session, Turn

INDEX_FORMAT = 2  # bump when the stored layout or passage text format changes
DEFAULT_RETRIEVAL_MODELS = {"en": "minilm", "zh": "e5"}  # aliases of psybench.assets.encoders
ROLE_NAMES = {"en": {"Seeker": "Client", "Supporter": "Therapist"},
              "zh": {"Seeker": "来访者", "Supporter": "咨询师"}}
# Every encoder forward pass has a shape that is a function of the text alone: ENCODE_BATCH rows x the
# text's own token count rounded up to WIDTH_STEP (a short batch is filled with copies of its first
# row). Padding to the longest text of a batch, or a batch of another size, changes the last float
# bits of an embedding with its batch-mates, and which texts share a batch depends on --limit and on
# the task (a `--limit 5` build once stored 0.955299 where the whole split stored 0.955298). With the
# shape fixed by the text, and no op that mixes rows, a text's vector depends on the text alone.
ENCODE_BATCH = 8
WIDTH_STEP = 32

@dataclass(frozen=True)
class IndexParams:
    """What shapes the index (all part of the cache key)."""

    chunk_turns: int = 6  # turns per passage window
    chunk_stride: int = 4  # window start step (< chunk_turns: windows overlap, no exchange is split off)
    max_seq_length: int | None = 256  # encoder truncation in tokens (None = the model's own): 256 covers a passage

    def __post_init__(self) -> None:
        if self.chunk_turns < 1 or self.chunk_stride < 1 or (self.max_seq_length or 16) < 16:
            raise ConfigError(f"bad retrieval index parameters: {self}")


@dataclass(frozen=True)
class Hit:
    dialog_id: str
    score: float  # cosine similarity of the best passage, rounded to 6 decimals
    start: int  # turn span [start, end) of the best passage in the retrieved session
    end: int

    def as_meta(self) -> dict[str, Any]:
        return {"dialog_id": self.dialog_id, "score": self.score, "turns": [self.start, self.end]}


# ---- Text --------------------------------------------------------------------------------------

def turn_line(turn: Turn, lang: str) -> str:
    return f"{ROLE_NAMES[lang][turn.speaker]}: {turn.content}"


def passage_spans(n_turns: int, params: IndexParams) -> list[tuple[int, int]]:
    """Windows [start, end) covering every turn; the last window ends at the last turn."""
    if n_turns <= params.chunk_turns:
        return [(0, n_turns)]
    starts = list(range(0, n_turns - params.chunk_turns + 1, params.chunk_stride))
    if starts[-1] + params.chunk_turns < n_turns:
        starts.append(n_turns - params.chunk_turns)
    return [(s, s + params.chunk_turns) for s in starts]


def passage_text(session: Session, start: int, end: int) -> str:
    lines = [session.background] + [turn_line(t, session.lang) for t in session.turns[start:end]]
    return "\n".join(line for line in lines if line)


def query_text(session: Session, turn_index: int, query_turns: int) -> str:
    """Background plus the last `query_turns` turns before the target turn (never the target)."""
    history = session.turns[max(0, turn_index - query_turns):turn_index]
    lines = [session.background] + [turn_line(t, session.lang) for t in history]
    return "\n".join(line for line in lines if line)


# ---- Encoder -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Embedder:
    """A resolved sentence-embedding model: name for records, local path, e5-style prefixes."""

    name: str
    path: str
    query_prefix: str = ""
    passage_prefix: str = ""
    fingerprint: str = ""

    def encode(self, texts: Sequence[str], kind: str, max_seq_length: int | None = None) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per text, each independent of the others."""
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        model = _load_model(self.path)
        model.max_seq_length = max_seq_length or _DEFAULT_LEN[self.path]
        return _encode_fixed_shape(model, [prefix + t for t in texts], model.max_seq_length)


def _encode_fixed_shape(model: Any, texts: list[str], length: int) -> np.ndarray:
    """sentence-transformers' tokenisation and modules, each forward on (ENCODE_BATCH, width) inputs
    where width is the texts' own padded length (see ENCODE_BATCH)."""
    import torch

    if not texts:
        return np.zeros((0, model.get_embedding_dimension() or 0), dtype=np.float32)
    features = model.preprocess(texts)  # truncated at `length`, padded to the longest text
    tensors = {k: v for k, v in features.items() if isinstance(v, torch.Tensor) and v.dim() == 2}
    others = {k: v for k, v in features.items() if k not in tensors}
    for name, value in tensors.items():  # at least `length` columns, so every width below exists
        fill = model.tokenizer.pad_token_id if name == "input_ids" else 0
        tensors[name] = torch.nn.functional.pad(value, (0, max(0, length - value.shape[1])), value=fill)
    own = tensors["attention_mask"].sum(dim=1).tolist()
    widths = [min(length, -(-n // WIDTH_STEP) * WIDTH_STEP) for n in own]
    out = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    with torch.inference_mode():
        for width in sorted(set(widths)):
            rows = [i for i, w in enumerate(widths) if w == width]
            for start in range(0, len(rows), ENCODE_BATCH):
                chunk = rows[start:start + ENCODE_BATCH]
                index = torch.tensor(chunk + [chunk[0]] * (ENCODE_BATCH - len(chunk)))
                batch = {k: v[index, :width].to(model.device) for k, v in tensors.items()}
                emb = model({**batch, **others})["sentence_embedding"][:len(chunk)].float()
                out[chunk] = torch.nn.functional.normalize(emb, p=2, dim=1).cpu().numpy()
    return out


_MODELS: dict[str, Any] = {}  # per-process cache: path -> SentenceTransformer
_DEFAULT_LEN: dict[str, int] = {}  # path -> the model's own max_seq_length
_FINGERPRINTS: dict[tuple, str] = {}


def _load_model(path: str) -> Any:
    if path not in _MODELS:
        from sentence_transformers import SentenceTransformer

        try:
            _MODELS[path] = SentenceTransformer(path)  # CUDA when available, else CPU
        except OSError as err:
            raise MissingResourceError(f"retrieval model {path}: cannot load ({str(err).splitlines()[0]}); "
                                       "pass --retrieval-model with a local sentence-transformers folder")
        _DEFAULT_LEN[path] = int(min(_MODELS[path].max_seq_length or 512, 512))
    return _MODELS[path]


def weights_fingerprint(path: Path) -> str:
    """sha256 over the folder's config and weight files (content, so a re-conversion that yields the
    same weights keeps the cache valid); memoised per process on (path, sizes, mtimes)."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and (
        p.suffix in (".safetensors", ".bin", ".pt", ".onnx") or p.name in ("config.json", "modules.json",
                                                                         "tokenizer.json", "vocab.txt")))
    stamp = (str(path), tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if stamp not in _FINGERPRINTS:
        digest = hashlib.sha256()
        for p in files:
            digest.update(str(p.relative_to(path)).encode() + b"\0")
            with p.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(block)
        _FINGERPRINTS[stamp] = digest.hexdigest()
    return _FINGERPRINTS[stamp]


def _is_e5(name: str, path: Path) -> bool:
    """e5 models are trained with "query: "/"passage: " prefixes (multilingual-e5 model card)."""
    return "e5" in name.lower() or "e5" in path.name.lower()


def resolve_embedder(name_or_path: str | None, lang: str) -> Embedder:
    """An alias (`minilm`, `e5`, `mpnet` via psybench.assets.encoders), a hub id or a local folder.
    Raises MissingResourceError (one line) when no local copy can be found offline."""
    from psybench.assets.encoders import resolve_encoder
    from psybench.errors import PsybenchError

    name = (name_or_path or DEFAULT_RETRIEVAL_MODELS[lang]).strip()
    local = Path(name).expanduser()
    if local.is_dir():
        path, label, langs = local.resolve(), local.name, ()
        if not ((path / "config.json").is_file() or (path / "modules.json").is_file()):
            raise MissingResourceError(f"retrieval model folder {path} has no config.json/modules.json: "
                                       "not a sentence-transformers or Hugging Face model folder")
    else:
        try:  # num_layers is a BERTScore notion, irrelevant here
            spec = resolve_encoder(name, lang, num_layers=1, allow_lang_mismatch=True)
        except PsybenchError as err:
            raise MissingResourceError(
                f"retrieval model {name!r} not found ({str(err).split(':', 1)[0]}): pass --retrieval-model "
                "minilm (English), e5 (multilingual) or a local sentence-transformers folder") from None
        path, label, langs = Path(spec.path), spec.name, spec.langs
    if lang == "zh" and tuple(langs) == ("en",):
        raise ConfigError(f"retrieval model {label} is English-only (Chinese becomes [UNK]): "
                          "use --retrieval-model e5 or a Chinese/multilingual encoder")
    if not path.is_dir():  # a hub id transformers may download (online only)
        return Embedder(name=label, path=str(path), fingerprint=f"hub:{path}",
                        query_prefix="query: " if "e5" in label.lower() else "",
                        passage_prefix="passage: " if "e5" in label.lower() else "")
    e5 = _is_e5(label, path)
    return Embedder(name=label, path=str(path), query_prefix="query: " if e5 else "",
                    passage_prefix="passage: " if e5 else "", fingerprint=weights_fingerprint(path))


# ---- Index -------------------------------------------------------------------------------------

@dataclass
class RetrievalIndex:
    key: str
    lang: str
    model: str
    params: IndexParams
    session_ids: list[str]  # indexed sessions, sorted
    offsets: np.ndarray  # passages of session_ids[i] are rows offsets[i]:offsets[i+1]
    spans: np.ndarray  # (P, 2) turn span of each passage
    embeddings: np.ndarray  # (P, d) float32, unit rows
    build_seconds: float = 0.0
    from_cache: bool = False
    _position: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._position = {d: i for i, d in enumerate(self.session_ids)}

    def search(self, query_emb: np.ndarray, exclude: Sequence[set[str]], k: int) -> list[list[Hit]]:
        """Top-k sessions per query row (ties broken by dialog_id), skipping `exclude[i]` for row i."""
        sims = query_emb @ self.embeddings.T  # (Q, P) cosine
        per_session = np.maximum.reduceat(sims, self.offsets[:-1], axis=1)  # (Q, S): best passage
        best_row = _reduceat_argmax(sims, self.offsets)
        results = []
        for qi in range(len(query_emb)):
            scores = per_session[qi].copy()
            for dialog_id in exclude[qi]:
                pos = self._position.get(dialog_id)
                if pos is not None:
                    scores[pos] = -np.inf
            order = np.lexsort((np.arange(len(scores)), -scores))  # score desc, then id asc
            hits = []
            for pos in order[:k]:
                if not np.isfinite(scores[pos]):
                    break
                row = best_row[qi, pos]
                hits.append(Hit(self.session_ids[pos], round(float(scores[pos]), 6),
                                int(self.spans[row, 0]), int(self.spans[row, 1])))
            results.append(hits)
        return results


def _reduceat_argmax(sims: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Row index (into passages) of the best passage of each session, per query."""
    out = np.empty((sims.shape[0], len(offsets) - 1), dtype=np.int64)
    for s in range(len(offsets) - 1):
        lo, hi = offsets[s], offsets[s + 1]
        out[:, s] = lo + np.argmax(sims[:, lo:hi], axis=1)
    return out


def index_key(lang: str, texts: Sequence[str], ids: Sequence[str], split_hash: str, embedder: Embedder,
              params: IndexParams) -> str:
    digest = hashlib.sha256()
    header = {"format": INDEX_FORMAT, "lang": lang, "split": split_hash, "model": embedder.name,
              "weights": embedder.fingerprint, "prefixes": [embedder.query_prefix, embedder.passage_prefix],
              "params": asdict(params)}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for dialog_id, text in zip(ids, texts):  # the exact texts embedded: data + normalisation + chunking
        digest.update(dialog_id.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def build_index(sessions: Sequence[Session], split: Any, embedder: Embedder,
                params: IndexParams = IndexParams(), cache: bool = True) -> RetrievalIndex:
    """Index the training sessions of `split` (its `train_ids`; never test or excluded ids)."""
    import time

    by_id = {s.dialog_id: s for s in sessions}
    train = sorted(set(split.train_ids) - set(split.test_ids) - set(getattr(split, "excluded_ids", ())))
    missing = [d for d in train if d not in by_id]
    if missing:
        raise ConfigError(f"split {split.name}/{split.lang}: train id {missing[0]} is not in the loaded sessions")
    if not train:
        raise ConfigError(f"split {split.name}/{split.lang}: no training sessions to retrieve from")
    texts, owners, spans, offsets = [], [], [], [0]
    for dialog_id in train:
        session = by_id[dialog_id]
        for start, end in passage_spans(len(session.turns), params):
            texts.append(passage_text(session, start, end))
            owners.append(dialog_id)
            spans.append((start, end))
        offsets.append(len(texts))
    key = index_key(split.lang, texts, owners, split.content_hash, embedder, params)
    path = cache_subdir("indexes") / f"{key}.npz"
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                emb = stored["embeddings"]
            if emb.shape[0] == len(texts):
                return RetrievalIndex(key, split.lang, embedder.name, params, train, np.array(offsets),
                                      np.array(spans, dtype=np.int64), emb, from_cache=True)
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache entry: rebuild and overwrite
    t0 = time.perf_counter()
    emb = embedder.encode(texts, "passage", params.max_seq_length)
    seconds = time.perf_counter() - t0
    if cache:
        _atomic_save(path, embeddings=emb, meta=np.array(json.dumps(
            {"key": key, "lang": split.lang, "model": embedder.name, "params": asdict(params),
             "split": split.content_hash, "sessions": len(train), "passages": len(texts)})))
    return RetrievalIndex(key, split.lang, embedder.name, params, train, np.array(offsets),
                          np.array(spans, dtype=np.int64), emb, build_seconds=seconds)


def _atomic_save(path: Path, **arrays: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; cache files are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---- Retrieval for evaluated turns ---------------------------------------------------------------

def blocked_ids(sessions: Sequence[Session]) -> dict[str, set[str]]:
    """dialog_id -> itself plus every session in its overlap group (shares a turn)."""
    from psybench.data.splits import overlap_groups

    blocked: dict[str, set[str]] = {}
    for group in overlap_groups(list(sessions)):
        for dialog_id in group:
            blocked[dialog_id] = set(group)
    return blocked


def retrieve(index: RetrievalIndex, embedder: Embedder, sessions: Sequence[Session],
             queries: Sequence[tuple[str, int]], k: int = 3, query_turns: int = 4,
             test_ids: Sequence[str] = ()) -> list[list[Hit]]:
    """Top-k training sessions for each (dialog_id, target turn_index). Never returns the session
    itself, a session sharing turns with it, or any id in `test_ids`."""
    if k < 1:
        raise ConfigError(f"retrieval k must be >= 1, got {k}")
    by_id = {s.dialog_id: s for s in sessions}
    blocked = blocked_ids(sessions)
    tests = set(test_ids)
    texts, exclude = [], []
    for dialog_id, turn_index in queries:
        texts.append(query_text(by_id[dialog_id], turn_index, query_turns))
        exclude.append(blocked.get(dialog_id, {dialog_id}) | {dialog_id} | tests)
    if not texts:
        return []
    return index.search(encode_queries(embedder, texts, index.params.max_seq_length), exclude, k)


def encode_queries(embedder: Embedder, texts: Sequence[str], max_seq_length: int | None,
                   cache: bool = True) -> np.ndarray:
    """Query embeddings, cached on disk like the index (rag_dialog and rag_explained, and repeated
    builds of one split, share them): key = model name + fingerprint + prefix + length + the texts."""
    digest = hashlib.sha256(json.dumps([INDEX_FORMAT, embedder.name, embedder.fingerprint, embedder.query_prefix,
                                        max_seq_length]).encode())
    for text in texts:
        digest.update(text.encode() + b"\0")
    path = cache_subdir("indexes") / f"queries-{digest.hexdigest()}.npz"
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as stored:
                emb = stored["embeddings"]
            if emb.shape[0] == len(texts):
                return emb
        except (OSError, ValueError, KeyError):
            pass
    emb = embedder.encode(texts, "query", max_seq_length)
    if cache:
        _atomic_save(path, embeddings=emb)
    return emb
