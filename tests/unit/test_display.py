"""The wall screen's pieces without the stack: the SVG map drawn from the grid GeoJSON, masked case numbers, working
days late, the change fingerprint, the page itself (one path per grid, nothing from elsewhere)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.analytics.display import geo
from services.analytics.display.service import fingerprint, late_text, left_text, mask_code


def test_every_grid_of_the_geojson_becomes_one_path_inside_the_view_box() -> None:
    data = json.loads(geo.DEMO_GEOJSON.read_text(encoding="utf-8"))
    grids = {f["properties"]["code"] for f in data["features"] if f["properties"].get("level") == "grid"}
    m = geo.district_map(geo.DEMO_GEOJSON)
    assert m.district == "成华区"
    assert {g.code for g in m.grids} == grids and len(m.grids) == len(grids) == 200
    assert len(m.streets) == 5
    for shape in (*m.grids, *m.streets):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", shape.d)]
        xs, ys = numbers[0::2], numbers[1::2]
        assert shape.d.startswith("M") and shape.d.endswith("Z")
        assert min(xs) >= 0 and max(xs) <= m.width + 0.01 and min(ys) >= 0 and max(ys) <= m.height + 0.01
        assert min(xs) <= shape.cx <= max(xs) and min(ys) <= shape.cy <= max(ys)
    # north is up: a grid further north has a smaller y
    north = max(
        data["features"],
        key=lambda f: f["geometry"]["coordinates"][0][0][1] if f["properties"].get("level") == "grid" else -1,
    )
    south = min(
        data["features"],
        key=lambda f: f["geometry"]["coordinates"][0][0][1] if f["properties"].get("level") == "grid" else 99,
    )
    by_code = {g.code: g for g in m.grids}
    assert by_code[north["properties"]["code"]].cy < by_code[south["properties"]["code"]].cy


def test_each_grid_belongs_to_its_street_and_no_worker_names_are_read() -> None:
    m = geo.district_map(geo.DEMO_GEOJSON)
    streets = m.street_of_grid()
    assert len(streets) == 200 and all(streets[g.code] == g.code[:3] for g in m.grids)
    assert "宋伟" not in repr(m)  # the file lists grid workers by name: never drawn


def test_an_unreadable_map_gives_an_empty_one(tmp_path: Path) -> None:
    bad = tmp_path / "broken.geojson"
    bad.write_text("{not json", encoding="utf-8")
    m = geo.district_map(bad)
    assert m.grids == () and m.width > 0 and m.height > 0


def test_the_map_file_comes_from_the_places_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(geo.ENV_GEOJSON, str(tmp_path / "city.geojson"))
    assert geo.geojson_path() == tmp_path / "city.geojson"
    monkeypatch.delenv(geo.ENV_GEOJSON)
    assert geo.geojson_path() == geo.DEMO_GEOJSON


def test_case_numbers_are_masked() -> None:
    assert mask_code("261124K7Q2PXW9HMT4RZC") == "261124…4RZC"
    assert mask_code("261124ABCDEF") == "261124…"
    assert mask_code(None) == "—"


def test_lateness_counts_working_days_in_shanghai() -> None:
    # deadline Friday 2026-12-04 17:30 (09:30 UTC); Monday 2026-12-07 is the first working day after it
    deadline = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert late_text(deadline, datetime(2026, 12, 4, 12, 0, tzinfo=UTC)) == (0, "超期不足1工作日")
    assert late_text(deadline, datetime(2026, 12, 6, 12, 0, tzinfo=UTC)) == (0, "超期不足1工作日")  # weekend
    assert late_text(deadline, datetime(2026, 12, 7, 2, 0, tzinfo=UTC)) == (1, "超期1个工作日")
    assert late_text(deadline, datetime(2026, 12, 9, 2, 0, tzinfo=UTC)) == (3, "超期3个工作日")
    assert left_text(None, datetime(2026, 12, 9, tzinfo=UTC)) == "无时限"
    assert left_text(datetime(2026, 12, 9, 9, 30, tzinfo=UTC), datetime(2026, 12, 9, 1, 0, tzinfo=UTC)) == "今日到期"
    assert (
        left_text(datetime(2026, 12, 11, 9, 30, tzinfo=UTC), datetime(2026, 12, 9, 1, 0, tzinfo=UTC)) == "剩2个工作日"
    )


def test_fingerprint_ignores_the_time_only() -> None:
    a = {"at": "1", "kpi": {"volume": 3}}
    assert fingerprint(a) == fingerprint({**a, "at": "2"})
    assert fingerprint(a) != fingerprint({**a, "kpi": {"volume": 4}})


def test_the_page_draws_every_grid_and_loads_nothing_from_elsewhere() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from services.analytics.display.routes import router

    app = FastAPI()
    app.include_router(router)
    r = TestClient(app).get("/display")
    assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert html.count('class="grid"') == 200 and html.count('class="street"') == 5
    assert "猛追湾街道" in html and "EventSource" in html
    assert "http://" not in html and "https://" not in html
    assert "宋伟" not in html
