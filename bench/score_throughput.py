"""Scoring throughput: psybench vs the authors' per-sample calls vs the libraries' own batched cost.

    PSYBENCH_DATA_DIR=... HF_HUB_OFFLINE=1 python bench/score_throughput.py [--pairs 1000] [--authors-pairs 50]

`--encoder minilm` swaps the encoder (default mpnet). Pairs: prediction/reference = neighbouring therapist turns of the English data, both written
"Therapist: {text}" as the authors' scripts saw them. Encoder: all-mpnet-base-v2 layer 8 (the packaged
English encoder closest in size to the paper's roberta-large). Each method runs in a fresh subprocess
(its own model and WordNet loads, its own peak memory):

  psybench  score_generation, all metrics, both modes, with 95% bootstrap CIs (1,000 resamples)
  batched   the libraries' own batched cost for the same numbers: one BERTScorer scoring all pairs of both
            modes in one call, then every n-gram metric of both modes in a plain loop (no CIs)
  authors   the authors' way of calling the libraries: one bert_score.score() and one call of each metric
            per sample, for the same work (both modes: the corrected mode's metrics called the same way),
            timed on --authors-pairs pairs and scaled linearly to --pairs
  psybench-paper, authors-paper   the same two, paper mode only (what the authors actually computed)

Peak memory = max RSS of the process and of its children (psybench's n-gram worker)."""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ENCODER = os.environ.get("PSYBENCH_BENCH_ENCODER", "mpnet")  # set by --encoder, inherited by the children


def load_pairs(n: int, data_dir: str | None) -> tuple[list[str], list[str]]:
    try:
        from psybench.data import load_sessions

        sessions = load_sessions("en", Path(data_dir) if data_dir else None)
        dialogs = [[t.content for t in s.turns if t.is_therapist] for s in sessions]
    except ImportError:  # before psybench.data landed: read the JSON directly
        root = Path(data_dir or os.environ["PSYBENCH_DATA_DIR"])
        raw = json.loads((root / "en_data_version7.json").read_text(encoding="utf-8"))
        dialogs = [[t["content"] for t in s["dialog"] if t["speaker"] == "Supporter"] for s in raw]
    preds, refs = [], []
    for turns in dialogs:
        for a, b in zip(turns, turns[1:]):
            if a.strip() and b.strip():
                preds.append(f"Therapist: {a.strip()}")
                refs.append(f"Therapist: {b.strip()}")
    if len(preds) < n:
        raise SystemExit(f"only {len(preds)} pairs in the data")
    return preds[:n], refs[:n]


def run_psybench(preds: list[str], refs: list[str], modes: tuple[str, ...] = ("paper", "corrected")) -> dict:
    from psybench.metrics import MetricSettings, score_generation
    from psybench.metrics import _generation

    res = score_generation(preds, refs, "en", MetricSettings(modes=modes, bertscore_model=ENCODER))
    if _generation._POOL is not None:
        _generation._POOL.shutdown(wait=True)  # reap the worker so its peak RSS is counted
    return {"timings": res.info["timings"], "n_keys": len(res.aggregates),
            "paper.meteor": res.aggregates["paper.meteor_swapped_jieba"]["value"],
            "bertscore_p": next(v["value"] for k, v in res.aggregates.items() if k.startswith("paper.bertscore_p["))}


def run_batched(preds: list[str], refs: list[str]) -> dict:
    import jieba
    import sacrebleu
    from bert_score import BERTScorer
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from nltk.translate.meteor_score import meteor_score
    from nltk.util import ngrams
    from rouge_score import rouge_scorer
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    from psybench.assets.encoders import resolve_encoder
    from psybench.assets.wordnet import ensure_wordnet
    from psybench.metrics.tokenize import strip_speaker, words

    ensure_wordnet()
    spec = resolve_encoder(ENCODER, "en")
    c_preds, c_refs = [strip_speaker(p) for p in preds], [strip_speaker(r) for r in refs]
    t = time.perf_counter()
    scorer = BERTScorer(model_type=spec.path, num_layers=spec.num_layers)
    p, r, f = scorer.score(preds + c_preds, refs + c_refs, batch_size=64)
    bert_s = time.perf_counter() - t
    t = time.perf_counter()
    smooth, rouge, tok13a = SmoothingFunction().method1, rouge_scorer.RougeScorer(["rougeL"]), Tokenizer13a()
    out = []
    for h, ref in zip(preds, refs):  # paper mode
        ht, rt = " ".join(jieba.cut(h)).split(), " ".join(jieba.cut(ref)).split()
        out.append((sentence_bleu([rt], ht, weights=(1.0,), smoothing_function=smooth),
                    sentence_bleu([rt], ht, weights=(1 / 3,) * 3, smoothing_function=smooth),
                    meteor_score([list(jieba.cut(h))], list(jieba.cut(ref))),
                    rouge.score(ref, h)["rougeL"].fmeasure))
    grams = [g for h in preds for g in ngrams(tok13a(h).split(), 2, pad_left=True, left_pad_symbol="<s>")]
    paper_d2 = len(set(grams)) / len(grams) / len(preds)
    b1 = sacrebleu.metrics.BLEU(max_ngram_order=1).corpus_score(c_preds, [c_refs]).score
    b3 = sacrebleu.metrics.BLEU(max_ngram_order=3).corpus_score(c_preds, [c_refs]).score
    s1 = sacrebleu.metrics.BLEU(max_ngram_order=1, effective_order=True)
    s3 = sacrebleu.metrics.BLEU(max_ngram_order=3, effective_order=True)
    for h, ref in zip(c_preds, c_refs):  # corrected mode
        out.append((s1.sentence_score(h, [ref]).score, s3.sentence_score(h, [ref]).score,
                    meteor_score([words(ref, "en")], words(h, "en")), rouge.score(ref, h)["rougeL"].fmeasure))
    toks = [tok13a(h).split() for h in c_preds]
    d2 = [g for t_ in toks for g in zip(t_, t_[1:])]
    corr_d2 = len(set(d2)) / len(d2)
    return {"timings": {"bertscore_s": bert_s, "ngram_s": time.perf_counter() - t},
            "check": [b1, b3, paper_d2, corr_d2, float(p[:len(preds)].mean())]}


def run_authors(preds: list[str], refs: list[str], modes: tuple[str, ...] = ("paper", "corrected")) -> dict:
    import jieba
    import sacrebleu
    from bert_score import score as bert_score
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from nltk.translate.meteor_score import meteor_score
    from rouge_score import rouge_scorer

    from psybench.assets.encoders import resolve_encoder
    from psybench.assets.wordnet import ensure_wordnet
    from psybench.metrics.tokenize import strip_speaker, words

    ensure_wordnet()
    from nltk.corpus import wordnet

    wordnet.ensure_loaded()  # one-time costs (imports, WordNet, jieba) are timed apart and not scaled
    jieba.initialize()
    spec = resolve_encoder(ENCODER, "en")
    t = time.perf_counter()
    for h, r in zip(preds, refs):
        bert_score([h], [r], model_type=spec.path, num_layers=spec.num_layers)  # reloads the model each call
        ht, rt = " ".join(jieba.cut(h)).split(), " ".join(jieba.cut(r)).split()
        sentence_bleu([rt], ht, weights=(1.0,), smoothing_function=SmoothingFunction().method1)
        sentence_bleu([rt], ht, weights=(1 / 3,) * 3, smoothing_function=SmoothingFunction().method1)
        meteor_score([list(jieba.cut(h))], list(jieba.cut(r)))
        rouge_scorer.RougeScorer(["rougeL"]).score(r, h)
        if "corrected" in modes:  # the corrected metrics, called per sample the same way
            ch, cr = strip_speaker(h), strip_speaker(r)
            bert_score([ch], [cr], model_type=spec.path, num_layers=spec.num_layers)
            sacrebleu.sentence_bleu(ch, [cr], smooth_method="exp")
            sacrebleu.metrics.BLEU(max_ngram_order=3, effective_order=True).sentence_score(ch, [cr])
            meteor_score([words(cr, "en")], words(ch, "en"))
            rouge_scorer.RougeScorer(["rougeL"]).score(cr, ch)
    return {"loop_s": time.perf_counter() - t}


def child(method: str, n: int, data_dir: str | None) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    preds, refs = load_pairs(n, data_dir)
    t0 = time.perf_counter()
    paper = ("paper",)
    info = {"psybench": lambda p, r: run_psybench(p, r), "batched": run_batched,
            "authors": lambda p, r: run_authors(p, r),
            "psybench-paper": lambda p, r: run_psybench(p, r, paper),
            "authors-paper": lambda p, r: run_authors(p, r, paper)}[method](preds, refs)
    wall = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("RESULT " + json.dumps({"method": method, "n": n, "wall_s": wall, "peak_rss_mib": own,
                                  "peak_rss_children_mib": kids, **info}))


def spawn(method: str, n: int, data_dir: str | None) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--pairs", str(n)] + (["--data-dir", data_dir] if data_dir else [])
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def reference_cache_bench(n: int, data_dir: str | None, repeat: int) -> None:
    """BERTScore of both modes' pairs (as score_generation sends them), in this process after a warm-up:
    a first checkpoint's outputs with a cold cache (encodes everything, writes the references), a second
    checkpoint's with the cache warm (encodes its outputs only) and with no cache. Each the fastest of
    `repeat`; the second checkpoint's scores must be identical with and without the cache."""
    import tempfile

    import numpy as np

    from psybench.assets.encoders import resolve_encoder
    from psybench.metrics._bertscore import EncodingStats, bertscore
    from psybench.metrics._reference_cache import ReferenceEmbeddingCache
    from psybench.metrics.tokenize import strip_speaker

    preds, refs = load_pairs(n, data_dir)
    # two checkpoints' outputs: the neighbouring turn's words reversed (first) or rotated by one (second), so
    # outputs are as long as the references but equal none of them, nor the other checkpoint's (as real
    # outputs would not; an output equal to a reference would be read from the cache)
    def rotated(text: str, shift: int) -> str:  # "Therapist: " stays in front, as the authors' outputs had it
        words = text.removeprefix("Therapist: ").split()
        return "Therapist: " + (" ".join(words[shift:] + words[:shift]) if shift else " ".join(reversed(words)))

    runs = {"first": [rotated(p, 0) for p in preds], "second": [rotated(p, 1) for p in preds]}
    cands = {name: out + [strip_speaker(p) for p in out] for name, out in runs.items()}
    golds = refs + [strip_speaker(r) for r in refs]
    spec = resolve_encoder(ENCODER, "en")
    bertscore(cands["first"][:8], golds[:8], spec)  # load the encoder outside the timings
    best = {"off": float("inf"), "cold": float("inf"), "warm": float("inf")}
    outputs = {}
    for _ in range(max(1, repeat)):
        with tempfile.TemporaryDirectory() as folder:
            cache = ReferenceEmbeddingCache(Path(folder) / "refs.sqlite")
            for name, use, run in (("off", None, "first"), ("cold", cache, "first"), ("warm", cache, "second")):
                stats = EncodingStats()
                start = time.perf_counter()
                outputs[name] = bertscore(cands[run], golds, spec, reference_cache=use, stats=stats)
                best[name] = min(best[name], time.perf_counter() - start)
                print(f"{name:5s} {time.perf_counter() - start:7.2f} s  encoded {stats.encoded}, cached {stats.cached}",
                      flush=True)
            cache.close()
    # the second checkpoint with no cache, once more (untimed): identical to what the warm cache gave
    same = np.array_equal(bertscore(cands["second"], golds, spec), outputs["warm"])
    print(f"\n{n} English pairs x 2 modes, {spec.label}: BERTScore (encode + match), fastest of {repeat}")
    print(f"no cache {best['off']:.2f} s, first run writing the cache {best['cold']:.2f} s, second run "
          f"{best['warm']:.2f} s; scores identical: {same}")
    print(f"first-run overhead {best['cold'] / best['off']:.2f}x (target <= 1.05x); second run / first run "
          f"{best['warm'] / best['cold']:.2f}x (target <= 0.55x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--authors-pairs", type=int, default=50)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--methods", default="authors,psybench,batched,authors-paper,psybench-paper",
                    help="comma-separated subset")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the methods this many times, interleaved, and keep each one's fastest run "
                         "(this VM's timings vary by +-30%% from run to run)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--encoder", default=None, help="BERTScore encoder alias (default mpnet)")
    ap.add_argument("--reference-cache", action="store_true",
                    help="measure the reference embedding cache instead: first run (writing it) and second run "
                         "(reading it) against no cache")
    args = ap.parse_args()
    if args.encoder:
        global ENCODER
        ENCODER = os.environ["PSYBENCH_BENCH_ENCODER"] = args.encoder
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.child:
        child(args.child, args.pairs, args.data_dir)
        return
    if args.reference_cache:
        reference_cache_bench(args.pairs, args.data_dir, args.repeat)
        return
    from psybench.assets.encoders import resolve_encoder

    label = resolve_encoder(ENCODER, "en").label  # unzip/convert once, outside the timings
    print(f"load average at start: {os.getloadavg()}  cores: {os.cpu_count()}", flush=True)
    results = {}
    for _ in range(max(1, args.repeat)):
        for method in args.methods.split(","):
            n = args.authors_pairs if method.startswith("authors") else args.pairs
            result = spawn(method, n, args.data_dir)
            print(json.dumps(result), f"load average {os.getloadavg()}", flush=True)
            if method not in results or result["wall_s"] < results[method]["wall_s"]:
                results[method] = result
    if not {"authors", "psybench", "batched"} <= set(results):
        return

    def scaled(au: dict) -> float:  # one-time loads counted once, the per-sample loop scaled
        return au["wall_s"] + au["loop_s"] * (args.pairs / args.authors_pairs - 1)

    authors_scaled = scaled(results["authors"])
    ps, bt = results["psybench"], results["batched"]
    print(f"\n{args.pairs} English pairs, {label}, all metrics (psybench: both modes + 95% CIs)")
    print(f"psybench              {ps['wall_s']:8.1f} s   peak RSS {ps['peak_rss_mib']:.0f} MiB "
          f"(+ worker {ps['peak_rss_children_mib']:.0f} MiB)")
    print(f"libraries batched     {bt['wall_s']:8.1f} s   peak RSS {bt['peak_rss_mib']:.0f} MiB")
    print(f"authors' per-sample   {authors_scaled:8.1f} s   (timed {results['authors']['wall_s']:.1f} s on "
          f"{args.authors_pairs} pairs, per-sample loop scaled x{args.pairs / args.authors_pairs:.0f}, one-time "
          f"loads counted once; both modes) "
          f"peak RSS {results['authors']['peak_rss_mib']:.0f} MiB")
    print(f"speed-up vs authors: {authors_scaled / ps['wall_s']:.1f}x (target >= 30x); "
          f"psybench / batched: {ps['wall_s'] / bt['wall_s']:.2f}x (target <= 1.3x)")
    if {"authors-paper", "psybench-paper"} <= set(results):
        ap_s, pp = scaled(results["authors-paper"]), results["psybench-paper"]
        print(f"paper mode only: psybench {pp['wall_s']:.1f} s vs authors' per-sample {ap_s:.1f} s: "
              f"{ap_s / pp['wall_s']:.1f}x")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
