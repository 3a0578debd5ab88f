"""Private jieba tokenizers built from the frequent words of jieba's dictionary.

jieba's own ``initialize()`` loads all 349 k words of its dictionary (about 140 MB of Python objects) or writes a
pickled cache file to the temporary directory. The words used at least :data:`MIN_FREQ` times are 105 k of them,
about 25 MB with their part-of-speech tags, and cut complaint texts the same way for our purposes. Each caller
gets its own tokenizer (the classifier's features must not change when 并单 adds its lexicon), and no file is
written anywhere. Part-of-speech tags come from the dictionary (a word it does not know is tagged ``x``), so the
50 MB hidden-Markov tables of ``jieba.posseg`` are never loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MIN_FREQ = 10
"""Words of jieba's dictionary kept: frequency at least this."""

UNKNOWN_TAG = "x"


@dataclass
class Segmenter:
    """A jieba tokenizer (dictionary words only, no HMM) with the part-of-speech tag of each word."""

    tokenizer: Any
    tags: dict[str, str] = field(default_factory=dict)

    def words(self, text: str) -> list[str]:
        out: list[str] = self.tokenizer.lcut(text, HMM=False)
        return out

    def tagged(self, text: str) -> list[tuple[str, str]]:
        return [(w, self.tags.get(w, UNKNOWN_TAG)) for w in self.tokenizer.lcut(text, HMM=False)]


def build(
    extra: Iterable[tuple[str, int | None, str | None]] = (), *, min_freq: int = MIN_FREQ, with_tags: bool = False
) -> Segmenter:
    """A new :class:`Segmenter`: jieba's words used at least ``min_freq`` times, then the ``extra`` (word,
    frequency or ``None`` for jieba's suggestion, tag or ``None``) added. Tags are kept only ``with_tags``."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    freq: dict[str, int] = {}
    tags: dict[str, str] = {}
    total = 0
    with tk.get_dict_file() as f:
        for raw in f:
            parts = raw.decode("utf-8").split()
            if len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) < min_freq:
                continue
            word, n = parts[0], int(parts[1])
            freq[word] = n
            total += n
            if with_tags and len(parts) > 2:
                tags[word] = parts[2]
            for i in range(1, len(word)):
                freq.setdefault(word[:i], 0)
    tk.FREQ, tk.total, tk.initialized = freq, total, True
    for word, count, tag in extra:
        tk.add_word(word, freq=count)
        if with_tags and tag:
            tags[word] = tag
    return Segmenter(tk, tags)
