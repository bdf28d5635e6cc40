"""Benchmark task 4 retrieval: build the index over every training session of the seeded split (both
languages, default offline models) and retrieve for every test sample (every therapist message that
rag_dialog scores, turns=all). Prints times and counts.

    PSYBENCH_DATA_DIR=DIR python bench/retrieval_index.py [--model NAME] [--cached]

The build is timed without the on-disk cache (a temporary cache dir) unless --cached is given, which
uses the user cache (second run = load time)."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--langs", default="en,zh")
    parser.add_argument("--model", default=None, help="retrieval model (default: minilm en, e5 zh)")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--cached", action="store_true", help="use the user index cache")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not args.cached:  # models stay in the user cache (converted e5 folder); only indexes go to a temp dir
        from psybench.paths import cache_subdir

        models = cache_subdir("models")
        tmp = tempfile.mkdtemp(prefix="psybench-bench-")
        os.symlink(models, os.path.join(tmp, "models"))
        os.environ["PSYBENCH_CACHE_DIR"] = tmp

    from psybench import retrieval
    from psybench.data import get_split, load_sessions
    from psybench.tasks import BuildOptions, get_task
    from psybench.tasks import dialogue

    for lang in args.langs.split(","):
        sessions = load_sessions(lang)
        split = get_split("seeded", lang)
        t0 = time.perf_counter()
        embedder = retrieval.resolve_embedder(args.model, lang)
        retrieval._load_model(embedder.path)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        index = retrieval.build_index(sessions, split, embedder)
        t_build = time.perf_counter() - t0
        samples, _ = dialogue.build(get_task("rag_dialog"), sessions, split, BuildOptions(lang=lang))
        queries = [(s.meta["dialog_id"], s.meta["turn_index"]) for s in samples]
        t0 = time.perf_counter()
        hits = retrieval.retrieve(index, embedder, sessions, queries, k=args.k, test_ids=split.test_ids)
        t_query = time.perf_counter() - t0
        t0 = time.perf_counter()
        emb = embedder.encode([retrieval.query_text(next(s for s in sessions if s.dialog_id == d), t, 4)
                               for d, t in queries[:64]], "query", index.params.max_seq_length)
        t_enc = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.search(emb, [set()] * len(emb), args.k)
        t_search = time.perf_counter() - t0
        print(f"{lang}: model={embedder.name} train_sessions={len(index.session_ids)} "
              f"passages={len(index.embeddings)} dim={index.embeddings.shape[1]} "
              f"test_sessions={len(split.test_ids)} queries={len(queries)} hits={sum(map(len, hits))}")
        print(f"{lang}: model load {t_load:.1f} s; index build {t_build:.1f} s "
              f"({'from cache' if index.from_cache else 'encoded'}); retrieval of all queries {t_query:.1f} s "
              f"= {1000 * t_query / max(1, len(queries)):.1f} ms/query (encoding {1000 * t_enc / len(emb):.1f} "
              f"ms/query, similarity+top-k {1000 * t_search / len(emb):.2f} ms/query)")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
