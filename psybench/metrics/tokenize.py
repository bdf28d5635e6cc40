"""Tokenisation for every metric, in one place. jieba is initialised once per process (quietly) and its
output cached per text, so paper mode (jieba for both languages) and corrected mode (jieba words for
Chinese) segment each text once."""
from __future__ import annotations

import logging
import re
import warnings

_SPEAKER = re.compile(r"^\s*(?:Therapist|Counsel(?:l)?or|治疗师|咨询师)\s*[:：]\s*", re.IGNORECASE)
# English word tokens: words with inner apostrophes/hyphens kept whole, each punctuation mark on its own
# (nltk.word_tokenize would need the punkt_tab model, which is not available offline).
_WORD = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
_PUNCT_ONLY = re.compile(r"^[\W_]+$")
_jieba = None
_jieba_cache: dict[str, tuple[str, ...]] = {}
_tok13a = None


def _get_jieba():
    global _jieba
    if _jieba is None:
        with warnings.catch_warnings():  # jieba's own DeprecationWarnings on import
            warnings.simplefilter("ignore")
            import jieba

        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _jieba = jieba
    return _jieba


def jieba_tokens(text: str) -> tuple[str, ...]:
    """`list(jieba.cut(text))` as the authors called it: whitespace comes back as tokens (' ')."""
    tokens = _jieba_cache.get(text)
    if tokens is None:
        tokens = tuple(_get_jieba().cut(text))
        _jieba_cache[text] = tokens
    return tokens


def paper_bleu_tokens(text: str) -> list[str]:
    """The authors' BLEU tokens: `' '.join(jieba.cut(text)).split()` (both languages)."""
    return " ".join(jieba_tokens(text)).split()


def strip_speaker(text: str) -> str:
    """Remove a leading speaker tag ("Therapist: ", "治疗师：") as corrected mode does on both sides."""
    return _SPEAKER.sub("", text, count=1).strip()


def words(text: str, lang: str) -> list[str]:
    """Proper word tokens for corrected mode: regex words (en), jieba words without whitespace (zh)."""
    if lang == "zh":
        return [t for t in jieba_tokens(text) if t.strip()]
    return _WORD.findall(text)


def rouge_zh_tokens(text: str) -> list[str]:
    """Chinese ROUGE tokens: jieba words, lowercased, punctuation dropped (as rouge_score does for English)."""
    return [t.lower() for t in jieba_tokens(text) if t.strip() and not _PUNCT_ONLY.match(t)]


def tokens_13a(text: str) -> list[str]:
    """sacrebleu's 13a tokens (the authors' Distinct-n tokens)."""
    global _tok13a
    if _tok13a is None:
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

        _tok13a = Tokenizer13a()
    return _tok13a(text).split()


def cjk_count(text: str) -> int:
    return sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf")


def latin_count(text: str) -> int:
    return sum(1 for ch in text if ch.isascii() and ch.isalpha())
