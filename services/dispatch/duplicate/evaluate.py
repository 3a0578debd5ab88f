"""Pair precision/recall of the 并单 decision on the labelled duplicate groups (tests/data/duplicate_groups.jsonl).

Each line is a group: 2–4 reports of one problem at one place (citizen, operator, grid worker; 30–150 m and hours to
days apart) — every pair of them is a positive — and negatives: the same spot with another problem
(``same_spot``), the same street at another number with another problem (``same_street``), the same problem more
than 1 km away (``far``); each negative paired with every report of its group is a negative pair. Groups are
``dev`` (the thresholds and the synonym table were tuned on these) or ``test`` (never tuned on).

A pair counts as found when the decision is ``merge`` (``suggest`` is reported apart). Measured twice: with the
matters the classifier gives the reports (as the automatic merge sees them) and from text, place and time alone
(as ``POST /api/v1/dispatch/duplicates/compare`` sees two reports without a matter).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from shared.duplicates import Report, compare

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "tests" / "data" / "duplicate_groups.jsonl"


def load_groups(path: str | Path | None = None, split: str | None = "test") -> list[dict[str, Any]]:
    source = Path(path) if path else DEFAULT_PATH
    if not source.exists():
        raise FileNotFoundError(f"duplicate groups not found: {source}")
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [g for g in rows if split is None or split == "all" or g.get("split") == split]


def _report(row: dict[str, Any], with_matter: bool) -> Report:
    return Report(
        text=row["text"],
        address=row.get("address"),
        lon=row.get("lon"),
        lat=row.get("lat"),
        time=datetime.fromisoformat(row["time"].replace("Z", "+00:00")) if row.get("time") else None,
        matter_code=row.get("matter") if with_matter else None,
    )


def labelled_pairs(
    groups: list[dict[str, Any]], *, with_matter: bool = True
) -> Iterator[tuple[str, str, Report, Report, bool]]:
    """(group id, kind, a, b, same problem?) for every positive and negative pair of the groups."""
    for group in groups:
        reports = [_report(r, with_matter) for r in group["reports"]]
        for a, b in combinations(reports, 2):
            yield group["id"], "positive", a, b, True
        for negative in group.get("negatives", []):
            other = _report(negative, with_matter)
            for a in reports:
                yield group["id"], negative["kind"], a, other, False


def _measure(groups: list[dict[str, Any]], *, with_matter: bool, misses: list[dict[str, Any]] | None) -> dict[str, Any]:
    tp = fp = fn = tn = suggested = 0
    false_by_kind: Counter[str] = Counter()
    negatives_by_kind: Counter[str] = Counter()
    for gid, kind, a, b, same in labelled_pairs(groups, with_matter=with_matter):
        result = compare(a, b)
        merged = result.decision == "merge"
        if same:
            tp += merged
            fn += not merged
            suggested += result.decision == "suggest"
        else:
            negatives_by_kind[kind] += 1
            fp += merged
            tn += not merged
            false_by_kind[kind] += merged
        if misses is not None and merged != same:
            misses.append(
                {
                    "group": gid,
                    "kind": kind,
                    "with_matter": with_matter,
                    "a": a.text,
                    "b": b.text,
                    "score": result.score,
                    "decision": result.decision,
                    "reasons": list(result.reasons),
                }
            )
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "pairs": tp + fp + fn + tn,
        "positive_pairs": tp + fn,
        "negative_pairs": fp + tn,
        "merged_positive": tp,
        "suggested_positive": suggested,
        "merged_negative": fp,
        "negative_pairs_by_kind": dict(negatives_by_kind),
        "merged_negative_by_kind": {k: false_by_kind.get(k, 0) for k in negatives_by_kind},
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


def evaluate_duplicates(path: str | Path | None = None, split: str = "test", *, misses: bool = False) -> dict[str, Any]:
    """Pair precision/recall/F1 and counts of the 并单 decision on ``split`` (``test`` by default; ``dev``, ``all``).

    Top-level figures are with the reports' matters; ``text_only`` repeats them without matters."""
    groups = load_groups(path, split)
    wrong: list[dict[str, Any]] | None = [] if misses else None
    result = _measure(groups, with_matter=True, misses=wrong)
    result = {"split": split, "groups": len(groups), **result}
    result["text_only"] = _measure(groups, with_matter=False, misses=wrong)
    if wrong is not None:
        result["misses"] = wrong
    return result


def main() -> None:  # pragma: no cover - a developer's look at the figures
    import sys

    split = sys.argv[1] if len(sys.argv) > 1 else "dev"
    result = evaluate_duplicates(split=split, misses=True)
    for miss in result.pop("misses"):
        print(json.dumps(miss, ensure_ascii=False))
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
