"""Quality of the classifier on a held-out corpus: macro-F1 of category and kind, emergency
recall/precision. ``python -m services.intake.classify.evaluate [heldout.jsonl]`` prints a report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sklearn.metrics import f1_score

from .model import Classifier, load_corpus
from .service import default_classifier

DEFAULT_HELDOUT = Path(__file__).resolve().parents[3] / "tests" / "data" / "complaints_heldout.jsonl"


def evaluate(heldout_path: str | Path = DEFAULT_HELDOUT, classifier: Classifier | None = None) -> dict[str, Any]:
    """Scores on a labelled JSON-lines file never used for training.

    Keys: ``n``, ``category_macro_f1``, ``category_accuracy``, ``category_top3_accuracy``,
    ``kind_macro_f1``, ``kind_accuracy``, ``emergency_recall``, ``emergency_precision``,
    ``emergency_service_accuracy`` (among true emergencies that were flagged), ``errors`` (first 20
    category misses as ``(text, expected, got)``).
    """
    clf = classifier or default_classifier()
    rows = load_corpus(heldout_path)
    results = [clf.classify(r.text) for r in rows]
    cat_true = [r.category for r in rows]
    cat_pred = [c.category for c in results]
    kind_true = [r.kind for r in rows]
    kind_pred = [c.kind for c in results]
    top3 = sum(r.category in {s.code for s in c.categories} for r, c in zip(rows, results, strict=True))
    tp = sum(1 for r, c in zip(rows, results, strict=True) if r.emergency and c.emergency)
    fn = sum(1 for r, c in zip(rows, results, strict=True) if r.emergency and not c.emergency)
    fp = sum(1 for r, c in zip(rows, results, strict=True) if not r.emergency and c.emergency)
    same_service = sum(
        1
        for r, c in zip(rows, results, strict=True)
        if r.emergency and c.emergency and c.emergency.service == r.emergency
    )
    n = len(rows)
    return {
        "n": n,
        "category_macro_f1": round(float(f1_score(cat_true, cat_pred, average="macro", zero_division=0)), 4),
        "category_accuracy": round(sum(a == b for a, b in zip(cat_true, cat_pred, strict=True)) / n, 4) if n else 0.0,
        "category_top3_accuracy": round(top3 / n, 4) if n else 0.0,
        "kind_macro_f1": round(float(f1_score(kind_true, kind_pred, average="macro", zero_division=0)), 4),
        "kind_accuracy": round(sum(a == b for a, b in zip(kind_true, kind_pred, strict=True)) / n, 4) if n else 0.0,
        "emergency_recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
        "emergency_precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "emergency_service_accuracy": round(same_service / tp, 4) if tp else 1.0,
        "errors": [
            (r.text, r.category, c.category) for r, c in zip(rows, results, strict=True) if r.category != c.category
        ][:20],
    }


def report(scores: dict[str, Any]) -> str:
    lines = [f"held-out rows: {scores['n']}"]
    for key in (
        "category_macro_f1",
        "category_accuracy",
        "category_top3_accuracy",
        "kind_macro_f1",
        "kind_accuracy",
        "emergency_recall",
        "emergency_precision",
        "emergency_service_accuracy",
    ):
        lines.append(f"  {key:<28} {scores[key]:.3f}")
    if scores["errors"]:
        lines.append("category misses (text / expected / got):")
        lines.extend(f"  {exp} -> {got}  {text[:60]}" for text, exp, got in scores["errors"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(report(evaluate(args[0] if args else DEFAULT_HELDOUT)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
