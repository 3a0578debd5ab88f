"""The classifier's train/test split: deterministic, disjoint, duplicates on one side, every category tested,
and the service trains on the train split only."""

from __future__ import annotations

from collections import Counter

import pytest

from services.intake.classify import model
from services.intake.classify.corpus import (
    TEST_PERCENT,
    Example,
    dedupe,
    heldout_split,
    in_test_split,
    load_all,
    split,
    split_key,
    train_split,
)
from services.intake.classify.service import default_classifier
from shared.catalog.models import CATEGORY_NAMES

pytestmark = pytest.mark.unit


def test_split_is_deterministic() -> None:
    a_train, a_test = split(load_all())
    b_train, b_test = train_split(), heldout_split()
    assert [r.text for r in a_train] == [r.text for r in b_train]
    assert [r.text for r in a_test] == [r.text for r in b_test]
    # a fixed text always lands on the same side (a hash of the text, nothing else)
    assert in_test_split("楼下烧烤店油烟太大") == in_test_split("楼下烧烤店油烟太大")


def test_split_is_disjoint_and_complete() -> None:
    rows = load_all()
    train, test = split(rows)
    assert len(train) + len(test) == len(rows)
    assert not {split_key(r.text) for r in train} & {split_key(r.text) for r in test}
    share = len(test) / len(rows)
    assert TEST_PERCENT / 100 - 0.05 < share < TEST_PERCENT / 100 + 0.05


def test_duplicates_never_straddle_the_split() -> None:
    # the same words with other punctuation, spaces or full-width characters are one text
    base = "小区门口路灯坏了，晚上很黑"
    variants = [base, "小区门口路灯坏了 晚上很黑！", "小区门口路灯坏了。。晚上很黑", "ＡＢ小区门口路灯坏了，晚上很黑"]
    assert len({split_key(v) for v in variants[:3]}) == 1
    assert len({in_test_split(v) for v in variants[:3]}) == 1
    rows = [Example(v, "投诉", "SZ", None) for v in variants]
    assert [r.text for r in dedupe(rows)] == [base, variants[3]]
    assert len(load_all()) == len({split_key(r.text) for r in load_all()})


def test_every_category_and_emergency_service_has_test_rows() -> None:
    train, test = split(load_all())
    assert set(Counter(r.category for r in test)) == set(CATEGORY_NAMES)
    assert {r.emergency for r in test} == {None, "110", "119", "120", "122"}
    assert min(Counter(r.category for r in train).values()) >= 30


def test_the_service_trains_on_the_train_split_only() -> None:
    clf = default_classifier()
    train = train_split()
    assert clf.version == model._digest(train, model.catalog_documents(clf.catalog))
    assert clf.tuning.train_rows == len(train)
