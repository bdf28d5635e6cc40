"""The n-gram metrics (BLEU, METEOR, ROUGE-L, Distinct-n) in both modes. `compute_ngram` is the unit of
work that may run in a worker process while the encoder runs in the main one: it returns per-sample
scores plus the sufficient statistics the corpus-level metrics need for their own bootstrap."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psybench.metrics import tokenize as tk

_NO_LOG = -9999999999.0  # sacrebleu's log(0)


# ---- BLEU from sufficient statistics (sacrebleu's compute_bleu, vectorised) -------------------------
def bleu_from_stats(stats: np.ndarray, order: int, effective_order: bool) -> np.ndarray:
    """sacrebleu BLEU (exp smoothing) on rows of [hyp_len, ref_len, correct_1..K, total_1..K], using the
    first `order` n-gram orders; returns values in [0, 1]. Equals sacrebleu's corpus_score on summed
    rows (effective_order False) and sentence_score on single rows (effective_order True)."""
    stats = np.atleast_2d(np.asarray(stats, dtype=np.float64))
    k = (stats.shape[1] - 2) // 2
    sys_len, ref_len = stats[:, 0], stats[:, 1]
    correct, total = stats[:, 2:2 + order], stats[:, 2 + k:2 + k + order]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len >= ref_len, 1.0, np.where(sys_len > 0, np.exp(1 - ref_len / np.maximum(sys_len, 1e-300)), 0.0))
    rows = stats.shape[0]
    smooth = np.ones(rows)
    logsum = np.zeros(rows)
    eff = np.full(rows, float(order))
    alive = np.ones(rows, dtype=bool)  # sacrebleu stops at the first order with no n-grams
    for n in range(order):
        alive &= total[:, n] > 0
        zero = correct[:, n] == 0
        smooth = np.where(alive & zero, smooth * 2, smooth)
        with np.errstate(divide="ignore", invalid="ignore"):
            prec = np.where(zero, 100.0 / (smooth * total[:, n]), 100.0 * correct[:, n] / total[:, n])
            logp = np.where(alive, np.log(np.where(alive, prec, 1.0)), _NO_LOG)
        if effective_order:
            eff = np.where(alive, n + 1.0, eff)
            logsum += np.where(alive, logp, 0.0)
        else:
            logsum += logp
    score = bp * np.exp(logsum / eff) / 100.0
    return np.where(correct.sum(axis=1) == 0, 0.0, score)


def sacrebleu_stats(hyps: list[str], refs: list[str], lang: str, order: int = 3) -> np.ndarray:
    from sacrebleu.metrics import BLEU

    bleu = BLEU(max_ngram_order=order, tokenize="zh" if lang == "zh" else "13a")
    if not hyps:
        return np.zeros((0, 2 + 2 * order))
    return np.asarray(bleu._extract_corpus_statistics(hyps, [refs]), dtype=np.float64)


# ---- Distinct-n over a corpus, with what its bootstrap needs ----------------------------------------
@dataclass
class DistinctStats:
    totals: np.ndarray  # per sample: number of n-grams
    pair_sample: np.ndarray  # (sample, n-gram id) pairs, one per distinct n-gram of a sample, sorted by id
    pair_id: np.ndarray

    @property
    def value(self) -> float:
        total = self.totals.sum()
        return float(len(np.unique(self.pair_id)) / total) if total else 0.0

    def bootstrap(self, counts: np.ndarray, block: int = 100) -> np.ndarray:
        """Distinct-n of each resample: unique n-grams among drawn samples / n-grams drawn (with repeats)."""
        if counts.shape[0] == 0:
            return np.zeros(0)
        totals = counts @ self.totals
        if self.pair_id.size == 0:
            return np.zeros(counts.shape[0])
        starts = np.flatnonzero(np.r_[True, self.pair_id[1:] != self.pair_id[:-1]])
        uniques = np.empty(counts.shape[0])
        for b in range(0, counts.shape[0], block):
            present = counts[b:b + block][:, self.pair_sample] > 0
            uniques[b:b + block] = np.logical_or.reduceat(present, starts, axis=1).sum(axis=1)
        return np.divide(uniques, totals, out=np.zeros_like(uniques), where=totals > 0)


def distinct_stats(token_lists: list[list[str]], n: int, pad: bool) -> DistinctStats:
    """pad: one '<s>' per missing left context (nltk.ngrams pad_left, as the authors' Distinct-2 did)."""
    vocab: dict[tuple[str, ...], int] = {}
    totals = np.zeros(len(token_lists))
    samples, ids = [], []
    for i, tokens in enumerate(token_lists):
        seq = (["<s>"] * (n - 1) + list(tokens)) if (pad and tokens) else list(tokens)
        grams = [tuple(seq[j:j + n]) for j in range(len(seq) - n + 1)]
        totals[i] = len(grams)
        for gram in set(grams):
            samples.append(i)
            ids.append(vocab.setdefault(gram, len(vocab)))
    pair_id = np.asarray(ids, dtype=np.int64)
    order = np.argsort(pair_id, kind="stable")
    return DistinctStats(totals, np.asarray(samples, dtype=np.int64)[order], pair_id[order])


# ---- per-mode computation -----------------------------------------------------------------------------
class _ZhRougeTokenizer:
    def tokenize(self, text: str) -> list[str]:
        return tk.rouge_zh_tokens(text)


def _paper(hyps: list[str], refs: list[str]) -> dict:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from nltk.translate.meteor_score import meteor_score
    from rouge_score import rouge_scorer

    smooth = SmoothingFunction().method1
    rouge = rouge_scorer.RougeScorer(["rougeL"])
    n = len(hyps)
    out = {k: np.zeros(n) for k in ("bleu1_sentence_cumulative", "bleu3_sentence_cumulative",
                                    "meteor_swapped_jieba", "rougeL_f_default_tokenizer")}
    for i, (hyp, ref) in enumerate(zip(hyps, refs)):
        h_tok, r_tok = tk.paper_bleu_tokens(hyp), tk.paper_bleu_tokens(ref)
        out["bleu1_sentence_cumulative"][i] = sentence_bleu([r_tok], h_tok, weights=(1.0,), smoothing_function=smooth)
        out["bleu3_sentence_cumulative"][i] = sentence_bleu([r_tok], h_tok, weights=(1 / 3,) * 3,
                                                            smoothing_function=smooth)
        # the authors' argument order: the reference is scored as the hypothesis; jieba's ' ' tokens kept
        out["meteor_swapped_jieba"][i] = meteor_score([list(tk.jieba_tokens(hyp))], list(tk.jieba_tokens(ref)))
        out["rougeL_f_default_tokenizer"][i] = rouge.score(ref, hyp)["rougeL"].fmeasure
    toks = [tk.tokens_13a(h) for h in hyps]
    return {"per_sample": out, "distinct": {n_: distinct_stats(toks, n_, pad=True) for n_ in (1, 2)}}


def _corrected(hyps: list[str], refs: list[str], lang: str) -> dict:
    from nltk.translate.meteor_score import meteor_score
    from rouge_score import rouge_scorer

    rouge = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_ZhRougeTokenizer() if lang == "zh" else None)
    stats = sacrebleu_stats(hyps, refs, lang, order=3)
    n = len(hyps)
    out = {"meteor": np.zeros(n), "rougeL_f": np.zeros(n)}
    for i, (hyp, ref) in enumerate(zip(hyps, refs)):
        out["meteor"][i] = meteor_score([tk.words(ref, lang)], tk.words(hyp, lang))
        out["rougeL_f"][i] = rouge.score(ref, hyp)["rougeL"].fmeasure
    if n:
        out["bleu1_sentence"] = bleu_from_stats(stats, 1, effective_order=True)
        out["bleu3_sentence"] = bleu_from_stats(stats, 3, effective_order=True)
    else:
        out["bleu1_sentence"] = out["bleu3_sentence"] = np.zeros(0)
    toks = [tk.words(h, lang) if lang == "zh" else tk.tokens_13a(h) for h in hyps]
    return {"per_sample": out, "bleu_stats": stats,
            "distinct": {n_: distinct_stats(toks, n_, pad=False) for n_ in (1, 2)}}


def compute_ngram(lang: str, paper: tuple[list[str], list[str]] | None,
                  corrected: tuple[list[str], list[str]] | None) -> dict:
    """All n-gram metrics for the modes given ((hyps, refs) each). Safe to run in a worker process."""
    from psybench.assets.wordnet import ensure_wordnet

    ensure_wordnet()
    result = {}
    if paper is not None:
        result["paper"] = _paper(*paper)
    if corrected is not None:
        result["corrected"] = _corrected(*corrected, lang)
    return result


def warm_up() -> None:
    """Load WordNet and jieba in a fresh worker while the encoder loads in the main process."""
    from nltk.corpus import wordnet

    from psybench.assets.wordnet import ensure_wordnet

    ensure_wordnet()
    wordnet.ensure_loaded()
    tk.jieba_tokens("预热")
