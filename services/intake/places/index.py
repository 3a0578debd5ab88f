"""The place tree (street -> community -> grid) with point-in-grid lookup.

Input: a GeoJSON ``FeatureCollection`` in WGS-84 lon/lat whose features are ``Polygon`` or
``MultiPolygon`` with these properties (any city can load its own map in this shape):

============  ==========================================================================
``level``     ``"street"``, ``"community"`` or ``"grid"`` (a ``"district"`` feature is ignored)
``code``      unique code, e.g. street ``S01``, community ``S01C01``, grid ``S01C01G01``
``name``      Chinese name, e.g. ``猛追湾街道``, ``望平社区``, ``望平社区第3网格``
``parent``    code of the parent: a grid's community, a community's street; a street's
              parent is the district code (``"510108"``) and is not checked
``workers``   grids only, optional: list of worker ids (``"W-S01C01G01-1"``) or objects
              ``{"id": "W-S01C01G01-1", "name": "王建国"}``
============  ==========================================================================

Loading validates everything and raises :class:`PlaceDataError` naming the feature index and
code. A point on a border shared by several grids goes to the grid with the smallest code.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import shapely
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points
from shapely.validation import explain_validity

from .geo import gcj02_to_wgs84, haversine_m
from .models import GridRef, GridWorker, Level, PlaceDataError, PlaceRef, Point

__all__ = ["PlaceIndex"]

_LEVELS: tuple[Level, ...] = ("street", "community", "grid")
_PARENT_LEVEL: dict[str, str] = {"community": "street", "grid": "community"}
_M_PER_DEG_LAT = 110_574.0


@dataclass(frozen=True)
class _Place:
    index: int
    ref: PlaceRef
    geom: BaseGeometry
    workers: tuple[GridWorker, ...]


def _where(index: int, code: object = None) -> str:
    return f"feature #{index}" + (f" (code {code!r})" if code else "")


def _required_str(props: Mapping[str, Any], key: str, index: int, code: object) -> str:
    value = props.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PlaceDataError(f"{_where(index, code)}: missing or empty property {key!r}")
    return value.strip()


def _parse_workers(raw: object, index: int, code: str) -> tuple[GridWorker, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PlaceDataError(f"{_where(index, code)}: 'workers' must be a list")
    workers: list[GridWorker] = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            workers.append(GridWorker(id=item.strip()))
        elif isinstance(item, Mapping) and isinstance(item.get("id"), str) and item["id"].strip():
            workers.append(GridWorker(id=item["id"].strip(), name=str(item.get("name") or "")))
        else:
            raise PlaceDataError(f"{_where(index, code)}: bad worker entry {item!r} (need an id)")
    return tuple(workers)


def _parse_geometry(raw: object, index: int, code: str) -> BaseGeometry:
    if not isinstance(raw, Mapping) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, Mapping) else type(raw).__name__
        raise PlaceDataError(f"{_where(index, code)}: geometry must be Polygon or MultiPolygon, got {kind!r}")
    try:
        geom = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise PlaceDataError(f"{_where(index, code)}: bad geometry coordinates ({exc})") from exc
    if geom.is_empty:
        raise PlaceDataError(f"{_where(index, code)}: empty geometry")
    if not geom.is_valid:
        raise PlaceDataError(f"{_where(index, code)}: invalid geometry ({explain_validity(geom)})")
    min_x, min_y, max_x, max_y = geom.bounds
    if min_x < -180 or max_x > 180 or min_y < -90 or max_y > 90:
        raise PlaceDataError(f"{_where(index, code)}: coordinates are not lon/lat degrees")
    return geom


def _parse_feature(index: int, feature: object) -> _Place | None:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise PlaceDataError(f"{_where(index)}: not a GeoJSON Feature")
    props = feature.get("properties")
    if not isinstance(props, Mapping):
        raise PlaceDataError(f"{_where(index)}: missing 'properties'")
    code = props.get("code")
    level = props.get("level")
    if level == "district":
        return None
    if level not in _LEVELS:
        raise PlaceDataError(f"{_where(index, code)}: 'level' must be one of {_LEVELS}, got {level!r}")
    code_s = _required_str(props, "code", index, code)
    ref = PlaceRef(
        level=cast(Level, level),
        code=code_s,
        name=_required_str(props, "name", index, code),
        parent=_required_str(props, "parent", index, code),
    )
    workers = _parse_workers(props.get("workers"), index, code_s) if level == "grid" else ()
    return _Place(index, ref, _parse_geometry(feature.get("geometry"), index, code_s), workers)


def _load_source(source: str | Path | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlaceDataError(f"cannot read GeoJSON {source}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PlaceDataError(f"{source}: not a GeoJSON object")
    return data


def _check_tree(places: dict[str, _Place]) -> None:
    for place in places.values():
        want = _PARENT_LEVEL.get(place.ref.level)
        if want is None:
            continue
        parent = places.get(place.ref.parent)
        if parent is None or parent.ref.level != want:
            raise PlaceDataError(
                f"{_where(place.index, place.ref.code)}: unknown parent {place.ref.parent!r} (need a {want} code)"
            )


class PlaceIndex:
    """Streets, communities and grids of one district, with an STRtree over the grid polygons."""

    def __init__(self, places: Iterable[_Place]) -> None:
        self._places: dict[str, _Place] = {}
        for place in places:
            if place.ref.code in self._places:
                first = self._places[place.ref.code].index
                raise PlaceDataError(f"{_where(place.index, place.ref.code)}: duplicate code (also feature #{first})")
            self._places[place.ref.code] = place
        _check_tree(self._places)
        grids = sorted((p for p in self._places.values() if p.ref.level == "grid"), key=lambda p: p.ref.code)
        if not grids:
            raise PlaceDataError("the map has no grid features")
        self._grid_places = grids
        self._grid_refs = [self._make_ref(p) for p in grids]
        self._grid_by_code = {r.grid_code: r for r in self._grid_refs}
        self._by_worker: dict[str, list[GridRef]] = {}
        for ref in self._grid_refs:
            for worker in ref.workers:
                self._by_worker.setdefault(worker.id, []).append(ref)
        self._tree = shapely.STRtree([p.geom for p in grids])
        for p in grids:
            shapely.prepare(p.geom)
        self._district: BaseGeometry | None = None

    # ---- loading -------------------------------------------------------------------------------
    @classmethod
    def from_geojson(cls, source: str | Path | Mapping[str, Any]) -> PlaceIndex:
        """Load a FeatureCollection from a path or an already parsed dict (see the module docstring)."""
        data = _load_source(source)
        if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
            raise PlaceDataError("not a GeoJSON FeatureCollection with a 'features' list")
        parsed = (_parse_feature(i, f) for i, f in enumerate(data["features"]))
        return cls(p for p in parsed if p is not None)

    def _make_ref(self, grid: _Place) -> GridRef:
        community = self._places[grid.ref.parent].ref
        street = self._places.get(community.parent)
        return GridRef(
            grid_code=grid.ref.code,
            grid_name=grid.ref.name,
            community_code=community.code,
            community_name=community.name,
            street_code=street.ref.code if street else community.parent,
            street_name=street.ref.name if street else "",
            workers=grid.workers,
        )

    # ---- lookups -------------------------------------------------------------------------------
    def locate(self, lon: float, lat: float, tolerance_m: float = 0.0) -> GridRef | None:
        """The grid covering a WGS-84 point; None outside the map.

        With ``tolerance_m > 0`` a point just outside (GPS error) goes to the nearest grid within
        that distance.
        """
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        point = ShapelyPoint(lon, lat)
        hits = self._tree.query(point, predicate="intersects")
        if len(hits):
            return self._grid_refs[int(min(hits))]  # grids are sorted by code: smallest code wins
        if tolerance_m > 0:
            return self._nearest_within(point, tolerance_m)
        return None

    def locate_gcj02(self, lon: float, lat: float, tolerance_m: float = 0.0) -> GridRef | None:
        """Like :meth:`locate` for a GCJ-02 point (WeChat, AMap, Tencent maps)."""
        return self.locate(*gcj02_to_wgs84(lon, lat), tolerance_m=tolerance_m)

    def _nearest_within(self, point: ShapelyPoint, tolerance_m: float) -> GridRef | None:
        max_deg = tolerance_m / (_M_PER_DEG_LAT * max(math.cos(math.radians(point.y)), 0.01))
        hits = self._tree.query(point, predicate="dwithin", distance=max_deg)
        best: tuple[float, int] | None = None
        for i in sorted(int(h) for h in hits):
            nearest = nearest_points(self._grid_places[i].geom, point)[0]
            dist = haversine_m((point.x, point.y), (nearest.x, nearest.y))
            if dist <= tolerance_m and (best is None or dist < best[0]):
                best = (dist, i)
        return self._grid_refs[best[1]] if best else None

    def distance_to_district_m(self, lon: float, lat: float) -> float:
        """Metres from a WGS-84 point to the nearest grid polygon (0 inside or on the border)."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return math.inf
        if self._district is None:
            self._district = shapely.union_all([p.geom for p in self._grid_places])
            shapely.prepare(self._district)
        point = ShapelyPoint(lon, lat)
        if self._district.covers(point):
            return 0.0
        nearest = nearest_points(self._district, point)[0]
        return haversine_m((lon, lat), (nearest.x, nearest.y))

    def grid(self, code: str) -> GridRef | None:
        return self._grid_by_code.get(code)

    def grids(self) -> list[GridRef]:
        """All grids, sorted by code."""
        return list(self._grid_refs)

    def grids_of_worker(self, worker_id: str) -> list[GridRef]:
        return list(self._by_worker.get(worker_id, ()))

    def place(self, code: str) -> PlaceRef | None:
        """Any street, community or grid by code."""
        place = self._places.get(code)
        return place.ref if place else None

    def streets(self) -> list[PlaceRef]:
        return self._level("street")

    def communities(self, street_code: str | None = None) -> list[PlaceRef]:
        return [c for c in self._level("community") if street_code is None or c.parent == street_code]

    def _level(self, level: Level) -> list[PlaceRef]:
        return sorted((p.ref for p in self._places.values() if p.ref.level == level), key=lambda r: r.code)

    def geometry(self, code: str) -> BaseGeometry | None:
        """The shapely polygon of a street, community or grid (WGS-84)."""
        place = self._places.get(code)
        return place.geom if place else None

    def contains(self, grid_code: str, lon: float, lat: float) -> bool:
        """True if the grid covers the point (its border included); False for an unknown grid."""
        grid = self._grid_by_code.get(grid_code)
        if grid is None:
            return False
        return bool(self._places[grid_code].geom.covers(ShapelyPoint(lon, lat)))

    def centroid(self, code: str) -> Point | None:
        """A point inside the street/community/grid: its centroid, or a representative point if the
        centroid falls outside a concave polygon. None for an unknown code."""
        place = self._places.get(code)
        if place is None:
            return None
        c = place.geom.centroid
        if not place.geom.covers(c):
            c = place.geom.representative_point()
        return (c.x, c.y)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of all grids."""
        b = self._tree.geometries
        return cast(tuple[float, float, float, float], tuple(float(v) for v in shapely.total_bounds(b)))

    def random_point(self, rng: random.Random) -> Point:
        """A uniformly drawn (lon, lat) inside one of the grids, rounded to 6 decimals (about 0.1 m)."""
        min_x, min_y, max_x, max_y = self.bounds
        while True:
            lon, lat = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
            if self.locate(lon, lat) is not None:
                return (round(lon, 6), round(lat, 6))

    @staticmethod
    def distance_m(a: Point, b: Point) -> float:
        """Haversine distance in metres between two (lon, lat) points."""
        return haversine_m(a, b)

    def __len__(self) -> int:
        return len(self._grid_refs)
