"""Text features of the classifier: jieba words (with a small domain dictionary) beside character n-grams.

jieba is loaded once per process, in a private :class:`jieba.Tokenizer` (so another part of the same process
adding its own words cannot change this model's features), with its log quiet, from the frequent words of its
dictionary (see :data:`JIEBA_MIN_FREQ`): no cache file is written anywhere.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from .corpus import normalize

USER_DICT = Path(__file__).resolve().parent / "data" / "userdict.txt"

_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_KEEP = re.compile(r"[\w#]", re.UNICODE)

JIEBA_MIN_FREQ = 10
"""Words of jieba's dictionary kept (frequency at least this): 105 k of its 349 k words, 17 MB instead of 85 MB,
the same classification quality; the domain words of ``data/userdict.txt`` are added on top."""

_lock = threading.Lock()
_tokenizer: Any = None


def _build_tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    # jieba's own initialize() would load all 349 k words (or a pickled cache in the temp directory); building
    # the prefix dictionary of the frequent words here is faster, smaller and writes no file
    freq: dict[str, int] = {}
    total = 0
    with tk.get_dict_file() as f:
        for raw in f:
            parts = raw.decode("utf-8").split(" ", 2)
            if len(parts) < 2 or not parts[1].strip().isdigit() or int(parts[1]) < JIEBA_MIN_FREQ:
                continue
            word, n = parts[0], int(parts[1])
            freq[word] = n
            total += n
            for i in range(1, len(word)):
                freq.setdefault(word[:i], 0)
    tk.FREQ, tk.total, tk.initialized = freq, total, True
    for line in USER_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith("#"):
            tk.add_word(parts[0], freq=int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None)
    return tk


def tokenizer() -> Any:
    """The process's jieba tokenizer (frequent words of jieba's dictionary + ``data/userdict.txt``), built once."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                _tokenizer = _build_tokenizer()
    return _tokenizer


def prepare(text: str | None) -> str:
    """:func:`normalize`, then every number as ``#`` (house numbers and dates say nothing about the topic)."""
    return _DIGITS.sub("#", normalize(text))


def words(prepared: str) -> list[str]:
    """jieba's words of an already :func:`prepare`-d text, punctuation and spaces dropped. Dictionary words only
    (no HMM for unknown ones: 30 % faster, the same cross-validated figures; the character n-grams see the rest)."""
    return [w for w in tokenizer().lcut(prepared, HMM=False) if _KEEP.search(w)]


WORD_WEIGHT = 0.7
"""Scale of the word block against the character block (chosen by cross-validation on the train split)."""
MIN_DF = 2
"""An n-gram or word must occur in at least this many training texts (halves the vocabulary, same quality);
1 for tiny training sets."""


class Features:
    """TF-IDF of character 1–3-grams and of jieba word uni- and bigrams (scaled by :data:`WORD_WEIGHT`), side by
    side (fitted once)."""

    def __init__(self) -> None:
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, dtype=np.float64)
        self.words = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, dtype=np.float64)

    @staticmethod
    def _word_grams(prepared: str) -> list[str]:
        ws = words(prepared)
        return ws + [f"{a}_{b}" for a, b in zip(ws, ws[1:], strict=False)]

    def fit_transform(self, prepared: list[str]) -> sp.csr_matrix:
        min_df = MIN_DF if len(prepared) >= 100 else 1
        self.chars.set_params(min_df=min_df)
        self.words.set_params(min_df=min_df)
        c = self.chars.fit_transform(prepared)
        w = self.words.fit_transform([self._word_grams(t) for t in prepared])
        return sp.hstack([c, w * WORD_WEIGHT], format="csr")

    def transform(self, prepared: list[str]) -> sp.csr_matrix:
        c = self.chars.transform(prepared)
        w = self.words.transform([self._word_grams(t) for t in prepared])
        return sp.hstack([c, w * WORD_WEIGHT], format="csr")


def _identity(tokens: list[str]) -> list[str]:
    return tokens
