"""未诉先办's rule (a grid × category above its own baseline) and the patrol result input, without a database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from services.analytics.hotspots.config import HotspotSettings
from services.analytics.hotspots.service import find_hotspots, is_hot, windows
from services.intake.patrol.schemas import PatrolResultIn

DAY = date(2026, 12, 8)
CFG = HotspotSettings(recent_days=7, baseline_days=28, min_count=5, factor=2.0)


def test_windows_are_the_recent_days_and_the_baseline_before_them() -> None:
    w = windows(DAY, CFG)
    assert w.recent_start == date(2026, 12, 2) and w.day == DAY
    assert w.baseline_end == date(2026, 12, 1) and w.baseline_start == date(2026, 11, 4)
    assert (w.baseline_end - w.baseline_start).days + 1 == 28


def test_hot_needs_the_minimum_count_and_the_factor_over_its_own_baseline() -> None:
    assert not is_hot(4, 0, CFG)  # too few, even from nothing
    assert is_hot(5, 0, CFG)  # a quiet grid × category that suddenly has 5
    # baseline 28 in 28 days = 1/day; the window needs ≥ 2/day, i.e. ≥ 14 in 7 days
    assert not is_hot(13, 28, CFG) and is_hot(14, 28, CFG)
    assert not is_hot(20, 280, CFG)  # a busy grid at its usual level is not hot


def rows(
    grid: str, category: str, counts: dict[int, int], street: str = "S01"
) -> list[tuple[date, str, str, str, int]]:
    """``counts``: days before DAY → cases that day."""
    return [(DAY - timedelta(days=ago), grid, category, street, n) for ago, n in counts.items()]


def test_find_hotspots_per_grid_and_category() -> None:
    data = [
        *rows("S01C01G01", "CG", {0: 3, 2: 2, 6: 1}),  # 6 in the window, nothing before: hot
        *rows("S01C01G01", "SZ", {0: 2, 1: 2}),  # 4: too few
        *rows("S02C01G01", "CG", {0: 4, 3: 3, 10: 2, 20: 2}, street="S02"),  # 7 vs 4 in 28 days: hot
        *rows("S03C01G01", "HB", {0: 10, 8: 30, 30: 10}, street="S03"),  # 10 vs 40/28 days: 1.43 < 2×1.43
        *rows("S01C01G02", "CG", {7: 9}),  # the day before the window: baseline, not recent
        *rows("-", "CG", {0: 9}),  # no grid: never a hot spot
        *rows("S01C01G03", "-", {0: 9}),  # unclassified: never a hot spot
        *rows("S01C01G04", "CG", {36: 50, 0: 5}),  # older than the baseline: ignored → hot
    ]
    found = find_hotspots(data, DAY, CFG)
    assert {(c.grid_code, c.category) for c in found} == {
        ("S01C01G01", "CG"),
        ("S02C01G01", "CG"),
        ("S01C01G04", "CG"),
    }
    first = next(c for c in found if c.grid_code == "S02C01G01")
    assert first.recent_count == 7 and first.baseline_count == 4 and first.street_code == "S02"
    assert first.baseline_daily == round(4 / 28, 4) and first.window_start == date(2026, 12, 2)
    assert first.hotspot_id == "S02C01G01:CG:2026-12-08"
    # the most excess first
    assert found[0].grid_code == "S01C01G01" or found[0].recent_count >= found[-1].recent_count


def test_the_same_data_gives_the_same_ids() -> None:
    data = rows("S01C01G01", "CG", {0: 5})
    assert [c.hotspot_id for c in find_hotspots(data, DAY, CFG)] == [
        c.hotspot_id for c in find_hotspots(data, DAY, CFG)
    ]


def test_the_rule_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKAGE_HOTSPOT_MIN_COUNT", "9")
    monkeypatch.setenv("LINKAGE_HOTSPOT_RECENT_DAYS", "3")
    cfg = HotspotSettings()
    assert cfg.min_count == 9 and cfg.recent_days == 3 and cfg.baseline_days == 28
    monkeypatch.setenv("LINKAGE_HOTSPOT_FACTOR", "0.5")
    with pytest.raises(ValidationError):
        HotspotSettings()


def test_patrol_results_in_english_codes_or_chinese_names() -> None:
    assert PatrolResultIn.model_validate({"result": "已处置"}).result == "handled"
    assert PatrolResultIn.model_validate({"result": "未发现问题", "note": "  "}).note is None
    assert PatrolResultIn.model_validate({"result": "patrolled", "note": " 现场已清理 "}).note == "现场已清理"
    with pytest.raises(ValidationError):
        PatrolResultIn.model_validate({"result": "做完了"})
    with pytest.raises(ValidationError):
        PatrolResultIn.model_validate({"result": "handled", "phone": "13800000000"})
