"""Quality of the classifier on the test split (:mod:`.corpus`), which training and tuning never see.

``linkage eval`` prints it; ``python -m services.intake.classify.evaluate`` prints a plain-text report.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from shared.catalog.models import CATEGORY_NAMES

from .corpus import SEED_FILES, Example, heldout_split
from .model import PRECISION_TARGET, Classifier
from .schemas import KINDS, Classification
from .service import default_classifier

TARGETS: dict[str, tuple[str, float]] = {
    # key: (what, minimum)
    "category_macro_f1": ("category macro-F1", 0.90),
    "kind_accuracy": ("kind accuracy", 0.85),
    "auto_route_share": ("non-emergency complaints routed automatically", 0.85),
    "auto_route_precision": ("category precision of automatic routing", PRECISION_TARGET),
    "emergency_recall": ("emergency recall", 0.98),
    "emergency_precision": ("emergency precision", 0.95),
}
"""Issue #9's targets on the test split."""
SEED_SOURCES = {p.name for p in SEED_FILES}


def _ratio(a: int, b: int, empty: float = 0.0) -> float:
    return round(a / b, 4) if b else empty


def _prf(true: Sequence[str], pred: Sequence[str], label: str) -> dict[str, float | int]:
    tp = sum(1 for t, p in zip(true, pred, strict=True) if t == label and p == label)
    fp = sum(1 for t, p in zip(true, pred, strict=True) if t != label and p == label)
    fn = sum(1 for t, p in zip(true, pred, strict=True) if t == label and p != label)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def evaluate(rows: Sequence[Example] | None = None, classifier: Classifier | None = None) -> dict[str, Any]:
    """Scores of ``classifier`` (default: the service's) on ``rows`` (default: the test split).

    Keys: ``n``, ``categories`` (per code: precision, recall, f1, support), ``category_macro_f1``,
    ``category_accuracy``, ``category_top3_accuracy``, ``confusion`` (``labels`` and ``matrix[true][predicted]``),
    ``kind_accuracy``, ``kind_macro_f1``, ``auto_route_share`` / ``auto_route_precision`` (among non-emergency
    rows), ``emergency_recall`` / ``emergency_precision`` / ``emergency_service_accuracy``,
    ``hard_negatives`` (rows of ``hard_negatives.jsonl`` and how many were flagged), ``xf_taken_for_emergency``,
    ``targets`` (per key: value, target, met), ``model`` (version, tuning), ``errors`` (first category misses).
    """
    clf = classifier or default_classifier()
    data = list(rows) if rows is not None else heldout_split()
    results: list[Classification] = [clf.classify(r.text) for r in data]
    n = len(data)
    cat_true = [r.category for r in data]
    cat_pred = [c.category for c in results]
    labels = list(CATEGORY_NAMES)
    per_cat = {c: _prf(cat_true, cat_pred, c) for c in labels if c in cat_true or c in cat_pred}
    macro_f1 = round(sum(float(v["f1"]) for v in per_cat.values()) / len(per_cat), 4) if per_cat else 0.0
    index = {c: i for i, c in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(cat_true, cat_pred, strict=True):
        matrix[index[t]][index[p]] += 1
    top3 = sum(r.category in {s.code for s in c.categories} for r, c in zip(data, results, strict=True))

    kind_true = [r.kind for r in data]
    kind_pred = [c.kind for c in results]
    kinds = {k: _prf(kind_true, kind_pred, k) for k in KINDS if k in kind_true or k in kind_pred}
    kind_macro = round(sum(float(v["f1"]) for v in kinds.values()) / len(kinds), 4) if kinds else 0.0

    non_emergency = [(r, c) for r, c in zip(data, results, strict=True) if r.emergency is None]
    auto = [(r, c) for r, c in non_emergency if c.auto_route]
    auto_right = sum(1 for r, c in auto if c.category == r.category)
    # triage shows the top 3: how often the right category is among them
    triage = [(r, c) for r, c in non_emergency if not c.auto_route and c.emergency is None]
    triage_top3 = sum(1 for r, c in triage if r.category in {s.code for s in c.categories})

    pairs = list(zip(data, results, strict=True))
    tp = sum(1 for r, c in pairs if r.emergency and c.emergency)
    fn = sum(1 for r, c in pairs if r.emergency and not c.emergency)
    fp = sum(1 for r, c in pairs if not r.emergency and c.emergency)
    same_service = sum(1 for r, c in pairs if r.emergency and c.emergency and c.emergency.service == r.emergency)
    hard = [(r, c) for r, c in pairs if r.source == "hard_negatives.jsonl"]
    xf = [(r, c) for r, c in pairs if r.category == "XF"]

    scores: dict[str, Any] = {
        "n": n,
        "categories": per_cat,
        "category_macro_f1": macro_f1,
        "category_accuracy": _ratio(sum(a == b for a, b in zip(cat_true, cat_pred, strict=True)), n),
        "category_top3_accuracy": _ratio(top3, n),
        "confusion": {"labels": labels, "matrix": matrix},
        "kind_accuracy": _ratio(sum(a == b for a, b in zip(kind_true, kind_pred, strict=True)), n),
        "kind_macro_f1": kind_macro,
        "kinds": kinds,
        "non_emergency": len(non_emergency),
        "auto_routed": len(auto),
        "auto_route_share": _ratio(len(auto), len(non_emergency)),
        "auto_route_precision": _ratio(auto_right, len(auto)),
        "triage": len(triage),
        "triage_top3_accuracy": _ratio(triage_top3, len(triage), 1.0),
        "emergencies": tp + fn,
        "emergency_flagged": tp + fp,
        "emergency_recall": _ratio(tp, tp + fn, 1.0),
        "emergency_precision": _ratio(tp, tp + fp, 1.0),
        "emergency_service_accuracy": _ratio(same_service, tp, 1.0),
        "hard_negatives": {"n": len(hard), "flagged": sum(1 for _, c in hard if c.emergency)},
        "xf_taken_for_emergency": {"n": len(xf), "flagged": sum(1 for _, c in xf if c.emergency)},
        "model": {
            "version": clf.version,
            "train_rows": clf.tuning.train_rows,
            "train_seconds": clf.tuning.train_seconds,
            "tuning_source": clf.tuning.source,
            "thresholds": clf.tuning.thresholds,
            "emergency_gate": clf.tuning.emergency_gate,
            "emergency_alone": clf.tuning.emergency_alone,
            "cv_auto_share": clf.tuning.cv_auto_share,
            "cv_auto_precision": clf.tuning.cv_auto_precision,
        },
        "errors": [
            {"text": r.text, "expected": r.category, "got": c.category} for r, c in pairs if r.category != c.category
        ][:40],
        "emergency_errors": [
            {"text": r.text, "expected": r.emergency, "got": c.emergency.service if c.emergency else None}
            for r, c in pairs
            if bool(r.emergency) != bool(c.emergency)
        ],
    }
    # the seed rows were written before the corpus, by other people: a hint of how the model does on new wording
    by_source: dict[str, dict[str, float | int]] = {}
    for name, keep in (("seed", True), ("corpus", False)):
        part = [(r, c) for r, c in pairs if (r.source in SEED_SOURCES) == keep]
        part_ne = [(r, c) for r, c in part if r.emergency is None]
        part_auto = [(r, c) for r, c in part_ne if c.auto_route]
        by_source[name] = {
            "n": len(part),
            "category_accuracy": _ratio(sum(1 for r, c in part if r.category == c.category), len(part)),
            "auto_route_share": _ratio(len(part_auto), len(part_ne)),
            "auto_route_precision": _ratio(sum(1 for r, c in part_auto if r.category == c.category), len(part_auto)),
        }
    scores["by_source"] = by_source
    scores["targets"] = {
        key: {"what": what, "value": scores[key], "target": target, "met": bool(scores[key] >= target)}
        for key, (what, target) in TARGETS.items()
    }
    return scores


def report(scores: dict[str, Any]) -> str:
    """A plain-text summary of :func:`evaluate`'s scores."""
    lines = [
        f"test rows: {scores['n']}  (model {scores['model']['version']}, {scores['model']['train_rows']} train rows)"
    ]
    for key, t in scores["targets"].items():
        lines.append(
            f"  {'✓' if t['met'] else '✗'} {t['what']:<48} {t['value']:.3f}  (target {t['target']:.2f})  [{key}]"
        )
    lines.append(
        "  per category F1: "
        + ", ".join(f"{c} {v['f1']:.2f}" for c, v in sorted(scores["categories"].items(), key=lambda kv: kv[1]["f1"]))
    )
    hn = scores["hard_negatives"]
    lines.append(f"  hard negatives flagged as emergencies: {hn['flagged']} of {hn['n']}")
    if scores["errors"]:
        lines.append("category misses (expected -> got: text):")
        lines.extend(f"  {e['expected']} -> {e['got']}: {e['text'][:70]}" for e in scores["errors"])
    counts = Counter((e["expected"], e["got"]) for e in scores["emergency_errors"])
    if counts:
        lines.append(
            "emergency misses (expected -> got: count): " + ", ".join(f"{a}->{b}: {n}" for (a, b), n in counts.items())
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    del argv
    print(report(evaluate()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
