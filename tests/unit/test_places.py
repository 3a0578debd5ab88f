"""Places for intake: demo map, point-in-grid, gazetteer, GCJ-02."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape
from shapely.ops import unary_union

from services.intake.places import geo
from services.intake.places.service import (
    DEFAULT_GAZETTEER,
    DEFAULT_GEOJSON,
    Gazetteer,
    PlaceDataError,
    PlaceIndex,
    default_places,
    gcj02_to_wgs84,
    wgs84_to_gcj02,
)
from services.intake.places.text import chinese_to_int, normalize_address

pytestmark = pytest.mark.unit

STREETS = {"S01": "猛追湾街道", "S02": "府青路街道", "S03": "二仙桥街道", "S04": "双桥子街道", "S05": "万年场街道"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_GEOJSON.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def index() -> PlaceIndex:
    return PlaceIndex.from_geojson(DEFAULT_GEOJSON)


@pytest.fixture(scope="module")
def gazetteer(index: PlaceIndex) -> Gazetteer:
    return Gazetteer.from_yaml(DEFAULT_GAZETTEER, index)


# ---- the shipped map ---------------------------------------------------------------------------
def test_shipped_map_loads_with_fixed_street_codes(index: PlaceIndex) -> None:
    assert {s.code: s.name for s in index.streets()} == STREETS
    assert all(s.parent == "510108" for s in index.streets())
    assert len(index.communities()) == 20
    assert all(len(index.communities(code)) == 4 for code in STREETS)
    assert 180 <= len(index.grids()) <= 220


def test_every_grid_sits_in_its_community_and_street(index: PlaceIndex) -> None:
    for ref in index.grids():
        assert ref.grid_code.startswith(ref.community_code) and ref.community_code.startswith(ref.street_code)
        assert ref.street_name == STREETS[ref.street_code]
        assert ref.grid_name.startswith(ref.community_name) and ref.grid_name.endswith("网格")
        assert 1 <= len(ref.workers) <= 2 and all(
            w.id.startswith(f"W-{ref.grid_code}-") and w.name for w in ref.workers
        )
        grid_geom, community_geom = index.geometry(ref.grid_code), index.geometry(ref.community_code)
        street_geom = index.geometry(ref.street_code)
        assert grid_geom is not None and community_geom is not None and street_geom is not None
        assert community_geom.buffer(1e-9).contains(grid_geom)
        assert street_geom.buffer(1e-9).contains(community_geom)


def test_levels_tile_the_district_without_gaps_or_overlaps(raw: dict[str, Any]) -> None:
    for level in ("street", "community", "grid"):
        geoms = [shape(f["geometry"]) for f in raw["features"] if f["properties"]["level"] == level]
        union = unary_union(geoms)
        assert union.geom_type == "Polygon" and not list(union.interiors)  # contiguous, no holes
        assert math.isclose(sum(g.area for g in geoms), union.area, rel_tol=1e-9)  # no overlaps
    lons = [c[0] for f in raw["features"] for c in f["geometry"]["coordinates"][0]]
    lats = [c[1] for f in raw["features"] for c in f["geometry"]["coordinates"][0]]
    assert min(lons) >= 104.07 and max(lons) <= 104.17 and min(lats) >= 30.63 and max(lats) <= 30.71


def test_streets_are_roughly_where_they_really_are(index: PlaceIndex) -> None:
    c = {code: index.centroid(code) for code in STREETS}
    assert all(p is not None for p in c.values())
    lon = {k: v[0] for k, v in c.items() if v}
    lat = {k: v[1] for k, v in c.items() if v}
    assert lat["S02"] > lat["S01"] and lat["S03"] > lat["S05"]  # 府青路/二仙桥 north
    assert lon["S01"] < lon["S04"] < lon["S05"] and lon["S02"] < lon["S03"]


# ---- point in grid -----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.floats(104.08, 104.16), st.floats(30.64, 30.70))
def test_random_points_fall_in_exactly_one_grid(lon: float, lat: float) -> None:
    index = default_places().index
    ref = index.locate(lon, lat)
    assert ref is not None
    assert index.contains(ref.grid_code, lon, lat)
    point = ShapelyPoint(lon, lat)
    inside = [g.grid_code for g in index.grids() if index.geometry(g.grid_code).contains(point)]  # type: ignore[union-attr]
    assert len(inside) <= 1 and (not inside or inside == [ref.grid_code])


def test_border_points_go_to_a_deterministic_grid(index: PlaceIndex) -> None:
    # 104.106 is the border between 猛追湾 (S01) and 双桥子 (S04); the smallest code wins
    ref = index.locate(104.106, 30.66)
    assert ref is not None and ref.street_code == "S01"
    assert index.contains("S01C02G10", 104.106, 30.66) or index.contains(ref.grid_code, 104.106, 30.66)
    assert index.locate(104.106, 30.66) == ref


def test_points_outside_the_district(index: PlaceIndex) -> None:
    assert index.locate(104.0657, 30.6595) is None  # 天府广场, 青羊区
    assert index.locate(104.2, 30.6) is None
    assert index.locate(float("nan"), 30.66) is None
    assert index.locate(104.16005, 30.66) is None
    near = index.locate(104.16005, 30.66, tolerance_m=20)
    assert near is not None and near.street_code == "S05"


def test_lookups_by_code_and_worker(index: PlaceIndex) -> None:
    ref = index.grid("S01C01G01")
    assert ref is not None and ref.grid_name == "望平社区第1网格" and ref.street_name == "猛追湾街道"
    assert index.grid("S99C01G01") is None
    worker = ref.workers[0].id
    assert worker == "W-S01C01G01-1"
    assert index.grids_of_worker(worker) == [ref]
    assert index.grids_of_worker("nobody") == []
    centre = index.centroid("S01C01G01")
    assert centre is not None and index.locate(*centre) == ref
    assert index.centroid("nope") is None
    assert not index.contains("nope", *centre)
    assert index.place("S01C01") is not None and index.place("S01C01").name == "望平社区"  # type: ignore[union-attr]


def test_distance_m() -> None:
    d = PlaceIndex.distance_m((104.08, 30.64), (104.16, 30.64))
    assert 7600 < d < 7700  # 0.08 deg of longitude at 30.64 N
    assert PlaceIndex.distance_m((104.1, 30.66), (104.1, 30.67)) == pytest.approx(1112, rel=0.01)


def test_locate_gcj02(index: PlaceIndex) -> None:
    wgs = (104.1030, 30.6650)
    assert index.locate_gcj02(*wgs84_to_gcj02(*wgs)) == index.locate(*wgs)


# ---- loader validation -------------------------------------------------------------------------
def _first(raw: dict[str, Any], level: str) -> tuple[int, dict[str, Any]]:
    return next((i, f) for i, f in enumerate(raw["features"]) if f["properties"]["level"] == level)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f["properties"].pop("name"), "missing or empty property 'name'"),
        (lambda f: f["properties"].update(parent="S09C09"), "unknown parent 'S09C09'"),
        (lambda f: f["properties"].update(level="block"), "'level' must be one of"),
        (lambda f: f.update(geometry={"type": "Point", "coordinates": [104.1, 30.66]}), "Polygon or MultiPolygon"),
        (
            lambda f: f["geometry"].update(
                coordinates=[[[104.1, 30.66], [104.11, 30.67], [104.1, 30.67], [104.11, 30.66], [104.1, 30.66]]]
            ),
            "invalid geometry",
        ),
        (lambda f: f["geometry"].update(coordinates=[[[104.1, 30.66]]]), "bad geometry"),
        (lambda f: f["properties"].update(workers=[{"name": "无名"}]), "bad worker entry"),
    ],
)
def test_bad_geojson_names_the_feature(raw: dict[str, Any], mutate: Any, message: str) -> None:
    data = copy.deepcopy(raw)
    i, feature = _first(data, "grid")
    code = feature["properties"]["code"]
    mutate(feature)
    with pytest.raises(PlaceDataError, match=message) as err:
        PlaceIndex.from_geojson(data)
    assert f"feature #{i}" in str(err.value) and code in str(err.value)


def test_duplicate_codes_and_non_collections_are_refused(raw: dict[str, Any], tmp_path: Path) -> None:
    data = copy.deepcopy(raw)
    data["features"].append(copy.deepcopy(_first(data, "grid")[1]))
    with pytest.raises(PlaceDataError, match="duplicate code"):
        PlaceIndex.from_geojson(data)
    with pytest.raises(PlaceDataError, match="FeatureCollection"):
        PlaceIndex.from_geojson({"type": "Feature"})
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(PlaceDataError, match="cannot read"):
        PlaceIndex.from_geojson(bad)


def test_any_city_map_with_multipolygons_and_plain_worker_ids() -> None:
    square = [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]]
    two = [square, [[[2.0, 0.0], [3.0, 0.0], [3.0, 1.0], [2.0, 1.0], [2.0, 0.0]]]]
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"level": "district", "code": "X", "name": "区", "parent": ""},
                "geometry": {"type": "MultiPolygon", "coordinates": two},
            },
            {
                "type": "Feature",
                "properties": {"level": "street", "code": "A", "name": "甲街道", "parent": "X"},
                "geometry": {"type": "MultiPolygon", "coordinates": two},
            },
            {
                "type": "Feature",
                "properties": {"level": "community", "code": "A1", "name": "甲社区", "parent": "A"},
                "geometry": {"type": "MultiPolygon", "coordinates": two},
            },
            {
                "type": "Feature",
                "properties": {"level": "grid", "code": "A1-1", "name": "一网格", "parent": "A1", "workers": ["w1"]},
                "geometry": {"type": "MultiPolygon", "coordinates": two},
            },
        ],
    }
    index = PlaceIndex.from_geojson(data)
    ref = index.locate(2.5, 0.5)
    assert ref is not None and ref.grid_code == "A1-1" and ref.worker_ids == ("w1",)
    assert index.locate(1.5, 0.5) is None


# ---- gazetteer ---------------------------------------------------------------------------------
def test_gazetteer_points_lie_inside_the_district(index: PlaceIndex) -> None:
    data = yaml.safe_load(DEFAULT_GAZETTEER.read_text(encoding="utf-8"))
    assert len(data["roads"]) >= 30 and len(data["landmarks"]) >= 30
    for road in data["roads"]:
        for lon, lat in road["line"]:
            assert index.locate(lon, lat) is not None, road["name"]
    for lm in data["landmarks"]:
        assert index.locate(*lm["point"]) is not None, lm["name"]


@pytest.mark.parametrize(
    ("text", "matched", "street", "community"),
    [
        ("成华区建设路12号附近", "建设路 12号", "S01", "建设路社区"),
        ("建设路十二号", "建设路 12号", "S01", "建设路社区"),
        ("建设路那个小吃街", "建设路小吃街", "S01", "建设路社区"),
        ("府青路二段88号", "府青路二段 88号", "S02", "八里桥社区"),
        ("府青路二段八十八号门口", "府青路二段 88号", "S02", "八里桥社区"),
        ("府青路2段88号", "府青路二段 88号", "S02", "八里桥社区"),
        ("府青路88号", "府青路二段 88号", "S02", "八里桥社区"),  # only 二段 has a No. 88
        ("我在万象城门口", "成都万象城", "S04", "双庆路社区"),
        ("东郊记忆", "东郊记忆", "S04", "双庆路社区"),
        ("sm广场旁边", "SM广场", "S04", "东风社区"),
        ("望平社区那个菜市场", "猛追湾菜市场", "S01", "望平社区"),
        ("建设路与二环路东一段交叉口", "建设路与二环路东一段交叉口", "S03", "踏水社区"),
        ("府青路街道八里桥社区第三网格旁边", "八里桥社区第3网格", "S02", "八里桥社区"),
    ],
)
def test_gazetteer_resolves(gazetteer: Gazetteer, text: str, matched: str, street: str, community: str) -> None:
    m = gazetteer.resolve(text)
    assert m.status == "resolved", m
    assert m.matched == matched and m.grid is not None and m.point is not None
    assert m.grid.street_code == street and m.grid.community_name == community
    assert m.confidence >= gazetteer.resolve_threshold
    assert gazetteer.places.locate(*m.point) == m.grid


def test_matches_are_json_ready(gazetteer: Gazetteer) -> None:
    dumped = gazetteer.resolve("建设路12号").model_dump(mode="json")
    assert dumped["status"] == "resolved" and dumped["grid"]["street_code"] == "S01"
    assert dumped["precision"] == "house_number" and len(dumped["point"]) == 2
    assert "东郊记忆" in gazetteer.names() and "望平社区" in gazetteer.names()


def test_house_numbers_interpolate_along_the_road_on_their_side(gazetteer: Gazetteer) -> None:
    def point(text: str) -> tuple[float, float]:
        m = gazetteer.resolve(text)
        assert m.point is not None, m
        return m.point

    low, high = point("建设路11号"), point("建设路191号")
    assert low[0] < high[0] and low[1] < high[1]  # numbers grow towards the north-east
    odd, even = point("建设路101号"), point("建设路102号")
    assert 15 < PlaceIndex.distance_m(odd, even) < 40  # opposite sides, ~12 m from the centre line
    assert odd[1] > even[1]  # the left (odd) side of a north-east bound road is the north-west one


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("二环路东二断128号", "二环路东二段 128号"),
        ("猛追湾滨河公圆", "猛追湾滨河公园"),
        ("东效记忆", "东郊记忆"),
    ],
)
def test_small_typos_resolve_and_are_flagged(gazetteer: Gazetteer, text: str, matched: str) -> None:
    m = gazetteer.resolve(text)
    assert m.status == "resolved" and m.matched == matched and m.fuzzy


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("那个小吃街", {"建设路小吃街", "二仙桥夜市"}),
        ("府青路20号", {"府青路一段 20号", "府青路二段 20号"}),
        ("建没路12号", {"建设路 12号"}),  # a typo in a 3-character name is only offered, never taken
        ("建设路", {"建设路"}),
        ("菜市场", {"猛追湾菜市场", "万年场菜市场"}),
        ("望平社区建设路12号", {"建设路 12号", "望平社区"}),  # the named community does not hold the point
        ("望平社区第3网格建设路12号", {"建设路 12号", "望平社区第3网格"}),
    ],
)
def test_ambiguous_addresses_offer_candidates(gazetteer: Gazetteer, text: str, readings: set[str]) -> None:
    m = gazetteer.resolve(text)
    assert m.status == "ambiguous", m
    assert m.point is None and m.grid is None
    assert 1 <= len(m.candidates) <= 3
    assert readings <= {c.matched for c in m.candidates}
    assert m.candidates == tuple(sorted(m.candidates, key=lambda c: -c.confidence))


@pytest.mark.parametrize("text", ["火星路999号", "", "   ", "我要投诉楼上噪音", "asdfgh", "12号", "成华区"])
def test_nonsense_is_unresolved(gazetteer: Gazetteer, text: str) -> None:
    m = gazetteer.resolve(text)
    assert m.status == "unresolved" and m.point is None and m.grid is None and not m.candidates


def test_bad_gazetteer_names_the_entry(index: PlaceIndex) -> None:
    with pytest.raises(PlaceDataError, match=r"road #1 \(乙路\).*\[lon, lat\]"):
        Gazetteer.from_dict(
            {
                "roads": [
                    {"name": "甲路", "line": [[104.1, 30.66], [104.11, 30.66]]},
                    {"name": "乙路", "line": [[104.1], [104.11, 30.66]]},
                ]
            },
            index,
        )
    with pytest.raises(PlaceDataError, match=r"landmark #0 \(某地\): missing 'point'"):
        Gazetteer.from_dict({"landmarks": [{"name": "某地"}]}, index)
    with pytest.raises(PlaceDataError, match="parity"):
        Gazetteer.from_dict(
            {
                "roads": [
                    {
                        "name": "甲路",
                        "line": [[104.1, 30.66], [104.11, 30.66]],
                        "ranges": [{"from": 1, "to": 9, "parity": "prime"}],
                    }
                ]
            },
            index,
        )


def test_default_places_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gaz = tmp_path / "g.yaml"
    gaz.write_text(
        yaml.safe_dump({"landmarks": [{"name": "测试点", "point": [104.1, 30.66]}]}, allow_unicode=True),
        encoding="utf-8",
    )
    default_places.cache_clear()
    monkeypatch.setenv("LINKAGE_GAZETTEER", str(gaz))
    try:
        places = default_places()
        assert places.resolve("测试点").status == "resolved"
        assert places.resolve("东郊记忆").status == "unresolved"
        assert default_places() is places
    finally:
        monkeypatch.delenv("LINKAGE_GAZETTEER")
        default_places.cache_clear()
    assert default_places().resolve("东郊记忆").status == "resolved"


# ---- text --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("十二", 12),
        ("一百零八", 108),
        ("两千零五", 2005),
        ("十", 10),
        ("幺二三", 123),
        ("三十", 30),
        ("二十一", 21),
        ("号", None),
    ],
)
def test_chinese_numerals(text: str, value: int | None) -> None:
    assert chinese_to_int(text) == value


def test_normalize_address() -> None:
    assert normalize_address("成华区 建设路十二号，附近") == "成华区建设路12号附近"
    assert normalize_address("府青路２段８８号") == "府青路二段88号"


# ---- GCJ-02 ------------------------------------------------------------------------------------
# (wgs lon, wgs lat, gcj lon, gcj lat): published test vectors of the standard transform
VECTORS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),  # Beijing
]


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), VECTORS)
def test_gcj02_vectors(wlon: float, wlat: float, glon: float, glat: float) -> None:
    assert wgs84_to_gcj02(wlon, wlat) == pytest.approx((glon, glat), abs=1e-9)
    back = gcj02_to_wgs84(glon, glat)
    assert back == pytest.approx((wlon, wlat), abs=2e-7)


def test_gcj02_unchanged_outside_china() -> None:
    for lon, lat in [(2.3522, 48.8566), (-74.006, 40.7128), (139.6917, 35.6895), (100.0, 60.0)]:
        assert wgs84_to_gcj02(lon, lat) == (lon, lat)
        assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_chengdu_offset_is_a_few_hundred_metres() -> None:
    wgs = (104.12, 30.67)
    assert 300 < geo.haversine_m(wgs, wgs84_to_gcj02(*wgs)) < 700


@settings(max_examples=300, deadline=None)
@given(st.floats(74.0, 134.0), st.floats(4.0, 53.0))
def test_gcj02_round_trip(lon: float, lat: float) -> None:
    glon, glat = wgs84_to_gcj02(lon, lat)
    back = gcj02_to_wgs84(glon, glat)
    assert abs(back[0] - lon) < 2e-7 and abs(back[1] - lat) < 2e-7
    # and the inverse really inverts: forward of the result is within the documented tolerance
    again = wgs84_to_gcj02(*back)
    assert abs(again[0] - glon) < 1e-7 and abs(again[1] - glat) < 1e-7
