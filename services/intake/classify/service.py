"""Plain functions around the classifier (no HTTP): the cached default instance and ``classify``."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import threading

from shared.settings import get_settings

from .model import Classifier, load_or_train
from .schemas import Classification

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _build() -> Classifier:
    clf = load_or_train(get_settings().model_cache)
    _release_training_memory()
    return clf


def _release_training_memory() -> None:
    """Hand the training's temporary matrices back to the OS (glibc keeps freed heap otherwise: ~40 MB RSS)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def default_classifier() -> Classifier:
    """The classifier trained on the train split of the packaged corpus with the default catalog (or loaded from the
    model cache when it was trained before on the same inputs), once per process.
    ``default_classifier.cache_clear()`` rebuilds it (e.g. after the catalog changed)."""
    with _lock:
        return _build()


default_classifier.cache_clear = _build.cache_clear  # type: ignore[attr-defined]


def classify(text: str, channel: str | None = None) -> Classification:
    """Classify one complaint text with the default classifier."""
    return default_classifier().classify(text, channel=channel)
