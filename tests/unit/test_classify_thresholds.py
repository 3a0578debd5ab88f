"""Calibrated confidence and the per-category auto-route thresholds (tuned by cross-validation on the train split)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from services.intake.classify.corpus import train_split
from services.intake.classify.model import (
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    PRECISION_TARGET,
    Classifier,
    fit_temperature,
    load_tuning,
    softmax,
    train_default,
    tune_thresholds,
)
from services.intake.classify.service import default_classifier
from services.intake.classify.tune import same_tuning
from shared.catalog.models import CATEGORY_NAMES

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return default_classifier()


def test_threshold_is_the_lowest_confidence_that_keeps_the_precision() -> None:
    #            conf: 0.95  0.9   0.8   0.7    0.6   0.5
    predicted = ["A"] * 6
    confidence = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, True, False, True, False]
    # 3/3 right down to 0.8; 3/4 at 0.7; 4/5 at 0.6
    assert tune_thresholds(predicted, confidence, correct, ["A"], precision=0.95) == {"A": 0.75}
    assert tune_thresholds(predicted, confidence, correct, ["A"], precision=0.8) == {"A": 0.55}
    # everything right: down to the floor
    assert tune_thresholds(predicted, confidence, [True] * 6, ["A"], precision=0.95) == {"A": max(MIN_THRESHOLD, 0.5)}


def test_threshold_of_a_class_never_right_or_never_seen_is_the_ceiling() -> None:
    out = tune_thresholds(["A", "A"], [0.9, 0.8], [False, False], ["A", "B"], precision=0.95)
    assert out == {"A": MAX_THRESHOLD, "B": MAX_THRESHOLD}


def test_thresholds_are_per_class() -> None:
    predicted = ["A", "A", "B", "B", "B"]
    confidence = [0.9, 0.6, 0.99, 0.97, 0.5]
    correct = [True, True, True, False, True]
    out = tune_thresholds(predicted, confidence, correct, ["A", "B"], precision=0.95)
    assert out["A"] == max(MIN_THRESHOLD, 0.6)
    assert out["B"] == pytest.approx(0.98)


def test_temperature_calibrates_overconfident_scores() -> None:
    rng = np.random.default_rng(0)
    n, k = 3000, 4
    y = rng.integers(0, k, n)
    true_logits = rng.normal(0, 1, (n, k))
    true_logits[np.arange(n), y] += 1.5
    # labels drawn from softmax(true_logits): the right temperature for scores = true_logits / 5 is 0.2
    p = softmax(true_logits, 1.0)
    drawn = np.array([rng.choice(k, p=row) for row in p])
    t = fit_temperature(true_logits / 5, drawn)
    assert 0.15 < t < 0.27


def test_auto_route_means_not_emergency_and_confidence_at_its_threshold(clf: Classifier) -> None:
    texts = [
        "小区门口天天有人摆地摊卖菜，占道经营",
        "想问一下这个事情找哪个部门",
        "楼下着火了",
        "物业和邻居都不管，我也不知道该找谁，反正就是很烦",
        "人行道上的井盖莫得了",
    ]
    for text in texts:
        r = clf.classify(text)
        if r.emergency is not None:
            assert not r.auto_route and r.auto_route_threshold is None
            continue
        assert r.auto_route_threshold == clf.thresholds[r.category]
        assert r.auto_route == (r.categories[0].confidence >= clf.thresholds[r.category])
        assert r.low_confidence == (not r.auto_route)


def test_changing_thresholds_changes_only_the_decision(clf: Classifier) -> None:
    text = "人行道上的井盖莫得了，晚上黑黢黢的好危险"
    never = copy.copy(clf)
    never.thresholds = dict.fromkeys(clf.thresholds, 1.0)
    always = copy.copy(clf)
    always.thresholds = dict.fromkeys(clf.thresholds, 0.0)
    a, b, c = clf.classify(text), never.classify(text), always.classify(text)
    assert not b.auto_route and c.auto_route
    assert a.categories == b.categories == c.categories


def test_tuned_thresholds_cover_every_routable_category(clf: Classifier) -> None:
    t = clf.tuning
    assert set(t.thresholds) == set(CATEGORY_NAMES) - {"JJ"}
    assert all(MIN_THRESHOLD <= v <= MAX_THRESHOLD for v in t.thresholds.values())
    assert t.category_temperature > 0 and t.kind_temperature > 0
    # on the cross-validated train predictions the thresholds were tuned on, the target holds
    assert t.cv_auto_precision >= PRECISION_TARGET
    assert 0 < t.cv_auto_share <= 1
    assert t.train_seconds > 0


def test_the_service_uses_the_stored_tuning_and_it_is_current(clf: Classifier) -> None:
    """data/tuning.json is what cross-validation gives for today's corpus and catalog (else: run
    ``python -m services.intake.classify.tune``), and the service uses it instead of tuning at start-up."""
    stored = load_tuning()
    assert stored is not None
    assert clf.tuning.source.startswith("stored") and clf.tuning.version == clf.version == stored.version
    fresh = train_default(tune=True).tuning
    assert fresh.source == "cross-validation"
    assert same_tuning(fresh, stored), (fresh, stored)


def test_a_stale_stored_tuning_is_not_used() -> None:
    stored = load_tuning()
    assert stored is not None
    small = Classifier(train_split()[:600], tuning=stored)  # another corpus: tuned by cross-validation
    assert small.tuning.source == "cross-validation" and small.tuning.version == small.version != stored.version
