"""``python -m services.intake.classify.tune``: tune the classifier by 5-fold cross-validation on the train split
and store the result in ``data/tuning.json`` (temperatures, per-category thresholds, emergency gate; a few numbers,
no model). The service reads it at start-up when it was made for the same corpus and catalog, and then only fits
its final models (a third of the work); otherwise it tunes by itself, slower. The same corpus and catalog give the
same file (to the last digits: see :func:`same_tuning`). ``--check`` exits 1 when the stored file is missing or stale.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict

from .model import TUNING_PATH, Tuning, load_tuning, save_tuning, train_default


def same_tuning(a: Tuning, b: Tuning, tolerance: float = 0.005) -> bool:
    """Whether two tunings agree: same corpus version and numbers within ``tolerance`` (two SVM fits running
    at once share the C library's random generator, so the last digits of a tuning can differ between runs)."""
    if a.version != b.version or set(a.thresholds) != set(b.thresholds):
        return False
    skip = {"version", "source", "train_seconds", "train_rows", "thresholds"}
    da, db = asdict(a), asdict(b)
    numbers = [(da[k], db[k]) for k in da if k not in skip]
    numbers += [(a.thresholds[c], b.thresholds[c]) for c in a.thresholds]
    return a.train_rows == b.train_rows and all(
        math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance) for x, y in numbers
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    clf = train_default(tune=True)
    if "--check" in args:
        stored = load_tuning()
        same = stored is not None and same_tuning(clf.tuning, stored)
        print(f"{TUNING_PATH}: {'up to date' if same else 'stale or missing'} (corpus {clf.version})")
        return 0 if same else 1
    save_tuning(clf.tuning)
    t = clf.tuning
    print(
        f"wrote {TUNING_PATH} for corpus {t.version}: {t.train_rows} train rows, cross-validated auto-route "
        f"{t.cv_auto_share:.1%} at {t.cv_auto_precision:.1%} precision, emergency recall {t.cv_emergency_recall:.1%} "
        f"at {t.cv_emergency_precision:.1%} precision"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
