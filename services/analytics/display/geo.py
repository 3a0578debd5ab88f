"""The district's grids as SVG paths, drawn server-side from the grid GeoJSON (no map tiles, nothing from elsewhere).

The file is the district map the deployment gives intake (``LINKAGE_PLACES_GEOJSON``; the demo district shipped
in the repository otherwise): analytics reads the same public reference data by path, it imports nothing of
intake. Only codes, names and polygons are read (the grid workers listed in the file are not).

Projection: equirectangular around the district's mean latitude (x = Δlon · cos φ, y = −Δlat), scaled to a
``WIDTH``-unit wide view box: at a district's size the distortion is invisible.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_GEOJSON = "LINKAGE_PLACES_GEOJSON"
DEMO_GEOJSON = Path(__file__).resolve().parents[2] / "intake" / "places" / "data" / "demo_district.geojson"
WIDTH = 1000.0
PAD = 6.0

Ring = list[tuple[float, float]]


@dataclass(frozen=True)
class Shape:
    code: str
    name: str
    parent: str
    d: str
    """SVG path data in view-box units."""
    cx: float
    cy: float
    """Label / marker point: the centroid of the largest ring."""


@dataclass(frozen=True)
class DistrictMap:
    district: str
    width: float
    height: float
    streets: tuple[Shape, ...]
    grids: tuple[Shape, ...]
    communities: tuple[Shape, ...] = ()

    def street_of_grid(self) -> dict[str, str]:
        """Grid code → street code (through the community the grid belongs to)."""
        communities = {c.code: c.parent for c in self.communities}
        return {g.code: communities.get(g.parent, g.parent) for g in self.grids}


def geojson_path() -> Path:
    configured = os.environ.get(ENV_GEOJSON, "").strip()
    return Path(configured) if configured else DEMO_GEOJSON


def _rings(geometry: dict[str, Any]) -> list[Ring]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return [[(float(x), float(y)) for x, y, *_ in ring] for polygon in polygons for ring in polygon if ring]


def _area_centroid(ring: Ring) -> tuple[float, float, float]:
    """(|area|, cx, cy) of a ring (shoelace); the vertex mean for a degenerate one."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(a) < 1e-12:
        n = len(ring)
        return 0.0, sum(p[0] for p in ring) / n, sum(p[1] for p in ring) / n
    return abs(a) / 2, cx / (3 * a), cy / (3 * a)


@functools.cache
def district_map(path: Path | None = None) -> DistrictMap:
    """The map at ``path`` (default :func:`geojson_path`) projected to SVG; an empty map if it cannot be read."""
    path = path or geojson_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DistrictMap("", WIDTH, WIDTH * 0.6, (), ())
    features = [f for f in data.get("features", []) if isinstance(f, dict)]
    rings_of: dict[int, list[Ring]] = {i: _rings(f.get("geometry") or {}) for i, f in enumerate(features)}
    points = [p for rings in rings_of.values() for ring in rings for p in ring]
    if not points:
        return DistrictMap("", WIDTH, WIDTH * 0.6, (), ())
    min_x, max_x = min(p[0] for p in points), max(p[0] for p in points)
    min_y, max_y = min(p[1] for p in points), max(p[1] for p in points)
    k = math.cos(math.radians((min_y + max_y) / 2))
    span_x = max((max_x - min_x) * k, 1e-9)
    scale = (WIDTH - 2 * PAD) / span_x
    height = round((max_y - min_y) * scale + 2 * PAD, 1)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return PAD + (lon - min_x) * k * scale, PAD + (max_y - lat) * scale

    def shape(i: int) -> Shape | None:
        props = features[i].get("properties") or {}
        code = str(props.get("code") or "")
        rings = rings_of[i]
        if not code or not rings:
            return None
        parts = []
        for ring in rings:
            pts = [xy(x, y) for x, y in ring]
            if len(pts) > 1 and pts[0] == pts[-1]:
                pts = pts[:-1]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
        _, cx, cy = max((_area_centroid(r) for r in rings), key=lambda t: t[0])
        px, py = xy(cx, cy)
        return Shape(code, str(props.get("name") or code), str(props.get("parent") or ""), "".join(parts), px, py)

    by_level: dict[str, list[Shape]] = {"street": [], "community": [], "grid": []}
    for i, f in enumerate(features):
        level = str((f.get("properties") or {}).get("level") or "")
        if level in by_level and (s := shape(i)) is not None:
            by_level[level].append(s)
    district = data.get("district") or {}
    return DistrictMap(
        district=str(district.get("name") or "") if isinstance(district, dict) else "",
        width=WIDTH,
        height=height,
        streets=tuple(sorted(by_level["street"], key=lambda s: s.code)),
        grids=tuple(sorted(by_level["grid"], key=lambda s: s.code)),
        communities=tuple(by_level["community"]),
    )
