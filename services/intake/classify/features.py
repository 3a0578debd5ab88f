"""Text features of the classifier: jieba words (with a small domain dictionary) beside character n-grams.

jieba is loaded once per process, in a private tokenizer (:mod:`shared.segmenter`: the frequent words of jieba's
dictionary, so another part of the same process adding its own words cannot change this model's features).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from shared.segmenter import Segmenter, build

from .corpus import normalize
from .frozen import Tfidf, Vector, char_grams

USER_DICT = Path(__file__).resolve().parent / "data" / "userdict.txt"

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_KEEP = re.compile(r"[\w#]", re.UNICODE)

_lock = threading.Lock()
_segmenter: Segmenter | None = None


def _user_words() -> list[tuple[str, int | None, str | None]]:
    out: list[tuple[str, int | None, str | None]] = []
    for line in USER_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith("#"):
            out.append((parts[0], int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None, None))
    return out


def segmenter() -> Segmenter:
    """The classifier's jieba words (frequent words of jieba's dictionary + ``data/userdict.txt``), built once."""
    global _segmenter
    if _segmenter is None:
        with _lock:
            if _segmenter is None:
                _segmenter = build(_user_words())
    return _segmenter


def prepare(text: str | None) -> str:
    """:func:`normalize`, then every number as ``#`` (house numbers and dates say nothing about the topic)."""
    return _DIGITS.sub("#", normalize(text))


def words(prepared: str) -> list[str]:
    """jieba's words of an already :func:`prepare`-d text, punctuation and spaces dropped. Dictionary words only
    (no HMM for unknown ones: 30 % faster, the same cross-validated figures; the character n-grams see the rest)."""
    return [w for w in segmenter().words(prepared) if _KEEP.search(w)]


WORD_WEIGHT = 0.7
"""Scale of the word block against the character block (chosen by cross-validation on the train split)."""
MIN_DF = 2
"""An n-gram or word must occur in at least this many training texts (halves the vocabulary, same quality);
1 for tiny training sets."""


class Features:
    """TF-IDF of character 1–3-grams and of jieba word uni- and bigrams (scaled by :data:`WORD_WEIGHT`), side by
    side (fitted once, or loaded: :mod:`.frozen`)."""

    def __init__(self, chars: Tfidf | None = None, words: Tfidf | None = None) -> None:
        self.chars = chars
        self.words = words

    @staticmethod
    def _word_grams(prepared: str) -> list[str]:
        ws = words(prepared)
        return ws + [f"{a}_{b}" for a, b in zip(ws, ws[1:], strict=False)]

    def fit_transform(self, prepared: list[str]) -> Any:
        """Fit both vocabularies and return the training matrix (``scipy.sparse``; training only)."""
        import scipy.sparse as sp

        min_df = MIN_DF if len(prepared) >= 100 else 1
        chars = [char_grams(t) for t in prepared]
        grams = [self._word_grams(t) for t in prepared]
        self.chars = fit_tfidf(chars, min_df)
        self.words = fit_tfidf(grams, min_df)
        return sp.hstack([self.chars.transform(chars), self.words.transform(grams) * WORD_WEIGHT], format="csr")

    def vector(self, prepared: str) -> Vector:
        """The feature row of one text: character columns first, then the word columns (scaled)."""
        if self.chars is None or self.words is None:
            raise RuntimeError("features are not fitted")
        c_cols, c_vals = self.chars.vector(char_grams(prepared))
        w_cols, w_vals = self.words.vector(self._word_grams(prepared))
        return (
            np.concatenate([c_cols, w_cols + len(self.chars.idf)]),
            np.concatenate([c_vals, w_vals * WORD_WEIGHT]),
        )


def fit_tfidf(documents: list[list[str]], min_df: int = 1) -> Tfidf:
    """The vocabulary (terms in at least ``min_df`` documents, in sorted order) and smoothed IDF
    ``ln((1 + n) / (1 + df)) + 1`` of tokenised documents: scikit-learn's ``TfidfVectorizer`` fit."""
    df: dict[str, int] = {}
    for terms in documents:
        for t in set(terms):
            df[t] = df.get(t, 0) + 1
    kept = sorted(t for t, k in df.items() if k >= min_df)
    counts = np.array([df[t] for t in kept], dtype=np.float64)
    idf = np.log((1.0 + len(documents)) / (1.0 + counts)) + 1.0
    return Tfidf.from_terms(kept, idf)
