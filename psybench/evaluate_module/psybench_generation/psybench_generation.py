"""psybench generation metrics (BERTScore-P/R/F1, BLEU-1/3, METEOR, ROUGE-L, Distinct-1/2, chrF) in the
paper-compatible and corrected modes, for `Trainer(compute_metrics=...)` and any other evaluate user.
The values are those `psybench score` writes for the same pairs: this module calls the same code."""
import datasets
import evaluate

_DESCRIPTION = """psybench's generation metrics for counselling replies (Psy-Insight, arXiv 2503.03607), in
`paper` mode (the authors' computation, quirks included) and `corrected` mode (textbook). Keys are
psybench's metric keys, e.g. `corrected.meteor`, `paper.bleu1_sentence_cumulative`,
`corrected.bertscore_p[all-MiniLM-L6-v2:L5]`."""

_KWARGS = """
Args:
    predictions: generated replies (strings; a "Therapist:" prefix is kept in paper mode, stripped in corrected).
    references: gold replies (strings), one per prediction.
    lang: "en" or "zh".
    mode: "corrected" (default), "paper" or "both".
    metrics: names to compute (default: Table 5's: bertscore, bleu, meteor, rouge, distinct; `psybench metrics`
        lists all, e.g. chrf), a list or a comma-separated string.
    bertscore_model: encoder alias, hub id or local folder (minilm, mpnet, e5, roberta-large, ...).
    bertscore_layer: encoder layer (required for a local folder).
    allow_lang_mismatch: allow an English-only encoder on Chinese.
    device: encoder device ("auto", "cpu", "cuda").
    bootstrap: bootstrap resamples for the 95% CIs (default 0: values only).
    return_ci: also return `KEY/ci_low` and `KEY/ci_high` (needs bootstrap > 0).
Returns:
    {metric key: value} for every key the metrics write in the chosen modes.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class PsybenchGeneration(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="arXiv 2503.03607", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
            homepage="https://github.com/psybench/psybench")

    def _compute(self, predictions, references, lang="en", mode="corrected", metrics=None, bertscore_model=None,
                 bertscore_layer=None, allow_lang_mismatch=False, device="auto", bootstrap=0, return_ci=False):
        from psybench.evaluate_module.compute import compute

        return compute(list(predictions), list(references), lang=lang, mode=mode, metrics=metrics,
                       bertscore_model=bertscore_model, bertscore_layer=bertscore_layer,
                       allow_lang_mismatch=allow_lang_mismatch, device=device, bootstrap=bootstrap,
                       return_ci=return_ci)
