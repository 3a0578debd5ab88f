"""The labelled corpus and its fixed train/test split.

Every labelled row the project has is pooled: ``data/corpus/*.jsonl`` (the hand-written corpus, one file per
category plus ``hard_negatives.jsonl``), ``data/train.jsonl`` (the first 640 rows, also
``tests/data/complaints_labelled.jsonl``) and ``data/seed_heldout.jsonl`` (the first held-out set, also
``tests/data/complaints_heldout.jsonl``). Rows whose :func:`split_key` is the same are one text: the first one
read is kept, so a duplicate can never sit on both sides of the split.

The split is a hash of that key: a row is in the **test** split when ``sha1(key) mod 100 < TEST_PERCENT``. It
depends on nothing but the text, so it is deterministic, never changes when rows are added, and is the same on
every machine. The test split is never used for training or tuning: the service trains on the train split and
tunes its thresholds by cross-validation inside it; only ``linkage eval`` reads the test split.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.catalog.models import CATEGORY_NAMES

from .schemas import KINDS

DATA_DIR = Path(__file__).resolve().parent / "data"
CORPUS_DIR = DATA_DIR / "corpus"
SEED_FILES = (DATA_DIR / "train.jsonl", DATA_DIR / "seed_heldout.jsonl")
TEST_PERCENT = 20
EMERGENCY_SERVICES = ("110", "119", "120", "122")

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Example:
    """One labelled row: text, 诉求 kind, category, emergency service (``None`` unless a real emergency)."""

    text: str
    kind: str
    category: str
    emergency: str | None
    channel: str | None = None
    source: str = ""


def normalize(text: str | None) -> str:
    """NFKC (full-width letters, digits and punctuation to half-width), lower case, squeezed spaces."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text).lower()
    return " ".join(t.split())


def split_key(text: str) -> str:
    """What makes two texts "the same" for the split: :func:`normalize`, then no punctuation or spaces."""
    return _NOT_WORD.sub("", normalize(text))


def in_test_split(text: str) -> bool:
    """Whether ``text`` belongs to the test split (about :data:`TEST_PERCENT` % of texts)."""
    digest = hashlib.sha1(split_key(text).encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % 100 < TEST_PERCENT


def load_corpus(path: str | Path) -> list[Example]:
    """Read a JSON-lines file of ``{"text", "kind", "category", "emergency"[, "channel"]}`` rows; a bad row raises
    ``ValueError`` naming the file and line."""
    p = Path(path)
    out: list[Example] = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{p}:{n}: not JSON: {exc}") from None
            text = row.get("text")
            emergency = row.get("emergency")
            if (
                not isinstance(text, str)
                or not text.strip()
                or row.get("kind") not in KINDS
                or row.get("category") not in CATEGORY_NAMES
                or emergency not in (None, *EMERGENCY_SERVICES)
            ):
                raise ValueError(f"{p}:{n}: bad text, kind, category or emergency in {row!r}")
            channel = row.get("channel")
            out.append(
                Example(
                    text, row["kind"], row["category"], emergency, channel if isinstance(channel, str) else None, p.name
                )
            )
    return out


def corpus_files() -> list[Path]:
    """Every labelled file, in a fixed order: the seed files, then ``data/corpus/*.jsonl`` by name."""
    extra = sorted(CORPUS_DIR.glob("*.jsonl")) if CORPUS_DIR.is_dir() else []
    return [p for p in SEED_FILES if p.exists()] + extra


def dedupe(rows: Iterable[Example]) -> list[Example]:
    """The rows with the first of each :func:`split_key` kept (and blank texts dropped)."""
    seen: set[str] = set()
    out: list[Example] = []
    for r in rows:
        key = split_key(r.text)
        if key and key not in seen:
            seen.add(key)
            out.append(r)
    return out


def load_all(files: Sequence[Path] | None = None) -> list[Example]:
    """All labelled rows, deduplicated (see :func:`dedupe`)."""
    rows: list[Example] = []
    for path in files if files is not None else corpus_files():
        rows.extend(load_corpus(path))
    return dedupe(rows)


def split(rows: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(train, test) by :func:`in_test_split`, each in the order given."""
    train: list[Example] = []
    test: list[Example] = []
    for r in rows:
        (test if in_test_split(r.text) else train).append(r)
    return train, test


def train_split() -> list[Example]:
    """The rows the service trains on (and tunes on, by cross-validation)."""
    return split(load_all())[0]


def heldout_split() -> list[Example]:
    """The rows kept apart for ``linkage eval``: never trained or tuned on."""
    return split(load_all())[1]
