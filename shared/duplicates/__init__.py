"""并单 (duplicate complaints) that understands paraphrase: one decision for dispatch's automatic merge, its
``POST /api/v1/dispatch/duplicates/compare`` and the hotline console's duplicate panel.

Pure functions (no database, no HTTP): :func:`compare` two :class:`Report` s → :class:`Comparison` (score, decision
``merge``/``suggest``/``separate``, reasons in Chinese). See :mod:`shared.duplicates.decision` for the rule and
:mod:`shared.duplicates.text` / :mod:`shared.duplicates.lexicon` for the word-level similarity.
"""

from shared.duplicates.decision import (
    MERGE_RADIUS_M,
    SUGGEST_RADIUS_M,
    WINDOW,
    Comparison,
    Decision,
    Report,
    compare,
    haversine_m,
)
from shared.duplicates.text import TextSimilarity, concept_ids, text_similarity, warm_up

__all__ = [
    "MERGE_RADIUS_M",
    "SUGGEST_RADIUS_M",
    "WINDOW",
    "Comparison",
    "Decision",
    "Report",
    "TextSimilarity",
    "compare",
    "concept_ids",
    "haversine_m",
    "text_similarity",
    "warm_up",
]
