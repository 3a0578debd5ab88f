"""The trained classifier in the form it is used in: vocabularies, IDF weights and linear models as plain numpy
arrays, with their own TF-IDF transform, and a file format for them (``.npz``, no pickle).

scikit-learn fits the models (:mod:`.model`) and is then no longer needed: a service that loads a stored model
never imports it (about 80 MB of resident memory less), and a second start does not train again. The transform
here gives the same matrices as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` (``norm="l2"``), which a
unit test checks on the corpus.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Vector = tuple[np.ndarray, np.ndarray]
"""A sparse row: sorted column indexes and their values."""

_WHITE_SPACES = re.compile(r"\s\s+")

FORMAT = 1
"""Version of the stored file's layout: a file of another format is ignored (trained again)."""


def char_grams(text: str, low: int = 1, high: int = 3) -> list[str]:
    """Character ``low``–``high``-grams of the lower-cased text with runs of white space as one space (what
    scikit-learn's ``analyzer="char"`` produces)."""
    doc = _WHITE_SPACES.sub(" ", text.lower())
    size = len(doc)
    return [doc[i : i + n] for n in range(low, min(high, size) + 1) for i in range(size - n + 1)]


@dataclass
class Tfidf:
    """A fitted TF-IDF vocabulary: term → column, the column's IDF; sublinear term frequency, rows of unit length."""

    vocabulary: dict[str, int]
    idf: np.ndarray

    @classmethod
    def from_terms(cls, terms: Sequence[str], idf: np.ndarray) -> Tfidf:
        return cls({t: i for i, t in enumerate(terms)}, np.asarray(idf, dtype=np.float64))

    def terms(self) -> list[str]:
        out = [""] * len(self.vocabulary)
        for term, col in self.vocabulary.items():
            out[col] = term
        return out

    def vector(self, terms: Iterable[str]) -> Vector:
        """One document's row, given as its terms (n-grams or words; terms outside the vocabulary ignored): the
        sorted columns and their unit-length weights."""
        vocab = self.vocabulary
        cols = np.fromiter((vocab[t] for t in terms if t in vocab), dtype=np.int64)
        if not cols.size:
            return cols, np.zeros(0)
        cols, counts = np.unique(cols, return_counts=True)
        values = (np.log(counts) + 1.0) * self.idf[cols]
        return cols, values / np.sqrt(np.dot(values, values))

    def transform(self, documents: Iterable[Sequence[str]]) -> Any:
        """A ``scipy.sparse.csr_matrix`` with one :meth:`vector` per document (training only)."""
        import scipy.sparse as sp

        indptr, indices, data = [0], [], []
        for terms in documents:
            cols, values = self.vector(terms)
            indices.append(cols)
            data.append(values)
            indptr.append(indptr[-1] + cols.size)
        shape = (len(indptr) - 1, len(self.idf))
        if not indptr[-1]:
            return sp.csr_matrix(shape, dtype=np.float64)
        return sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)), shape=shape)


class Inverted:
    """Rows of unit vectors stored by column, for the dot product of one vector with every row at once."""

    def __init__(self, rows: Sequence[Vector], n_cols: int) -> None:
        self.n_rows = len(rows)
        empty = np.zeros(0)
        row_of = np.concatenate([np.full(c.size, i) for i, (c, _) in enumerate(rows)] or [empty]).astype(np.int64)
        cols = np.concatenate([c for c, _ in rows] or [empty]).astype(np.int64)
        vals = np.concatenate([v for _, v in rows] or [empty]).astype(np.float64)
        order = np.argsort(cols, kind="stable")
        self.rows, self.values = row_of[order], vals[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=n_cols))])

    def dot(self, vector: Vector) -> np.ndarray:
        cols, vals = vector
        starts, ends = self.indptr[cols], self.indptr[cols + 1]
        lens = ends - starts
        total = int(lens.sum())
        if not total:
            return np.zeros(self.n_rows)
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(total)
        weights = self.values[offsets] * np.repeat(vals, lens)
        return np.bincount(self.rows[offsets], weights=weights, minlength=self.n_rows)


@dataclass
class Linear:
    """A fitted one-vs-rest linear model: scores ``x · coefᵀ + intercept``, probabilities by a softmax with a
    fitted temperature."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: list[str]
    temperature: float = 1.0

    @classmethod
    def from_sklearn(cls, model: Any, temperature: float = 1.0) -> Linear:
        names = [str(c) for c in model.classes_]
        return cls(np.asarray(model.coef_, dtype=np.float64), np.asarray(model.intercept_), names, temperature)

    def scores_one(self, vector: Vector) -> np.ndarray:
        cols, vals = vector
        out: np.ndarray = self.coef[:, cols] @ vals + self.intercept
        return out

    def probs_one(self, vector: Vector) -> np.ndarray:
        out: np.ndarray = softmax(self.scores_one(vector).reshape(1, -1), self.temperature)[0]
        return out

    def predict_one(self, vector: Vector) -> str:
        s = self.scores_one(vector)
        if s.size == 1:  # a binary model has one score: positive means the second class
            return self.classes[int(s[0] > 0)]
        return self.classes[int(s.argmax())]


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / max(temperature, 1e-6)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


# ------------------------------------------------------------------------------------------------ storage


def save(path: Path, meta: dict[str, Any], tfidfs: dict[str, Tfidf], linears: dict[str, Linear]) -> None:
    """Write the arrays and ``meta`` (JSON) to ``path`` atomically (a reader never sees half a file)."""
    arrays: dict[str, np.ndarray] = {}
    for name, t in tfidfs.items():
        arrays[f"tfidf.{name}.terms"] = np.array(t.terms(), dtype=str)
        arrays[f"tfidf.{name}.idf"] = t.idf
    linear_meta = {}
    for name, m in linears.items():
        arrays[f"linear.{name}.coef"] = m.coef
        arrays[f"linear.{name}.intercept"] = m.intercept
        linear_meta[name] = {"classes": m.classes, "temperature": m.temperature}
    header = {"format": FORMAT, "meta": meta, "tfidf": sorted(tfidfs), "linear": linear_meta}
    arrays["header"] = np.array(json.dumps(header, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, allow_pickle=False, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Stored:
    meta: dict[str, Any]
    tfidfs: dict[str, Tfidf]
    linears: dict[str, Linear]


def load(path: Path, accept: Callable[[dict[str, Any]], bool] = lambda meta: True) -> Stored | None:
    """The model stored at ``path``, or ``None`` when there is none, it is of another format, ``accept`` refuses
    its meta, or it cannot be read (a damaged file is trained again, never trusted)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            if header.get("format") != FORMAT or not accept(header["meta"]):
                return None
            tfidfs = {
                n: Tfidf.from_terms([str(t) for t in z[f"tfidf.{n}.terms"]], z[f"tfidf.{n}.idf"])
                for n in header["tfidf"]
            }
            linears = {
                n: Linear(z[f"linear.{n}.coef"], z[f"linear.{n}.intercept"], list(m["classes"]), m["temperature"])
                for n, m in header["linear"].items()
            }
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None
    return Stored(header["meta"], tfidfs, linears)
