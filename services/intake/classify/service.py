"""Plain functions around the classifier (no HTTP): the cached default instance and ``classify``."""

from __future__ import annotations

import functools
import threading

from .model import Classifier, train_default
from .schemas import Classification

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _build() -> Classifier:
    return train_default()


def default_classifier() -> Classifier:
    """The classifier trained on the packaged corpus with the default catalog, built once per process.
    ``default_classifier.cache_clear()`` rebuilds it (e.g. after the catalog changed)."""
    with _lock:
        return _build()


default_classifier.cache_clear = _build.cache_clear  # type: ignore[attr-defined]


def classify(text: str, channel: str | None = None) -> Classification:
    """Classify one complaint text with the default classifier."""
    return default_classifier().classify(text, channel=channel)
