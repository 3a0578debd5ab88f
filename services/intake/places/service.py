"""Places for intake: the public API of ``services.intake.places``.

- :class:`PlaceIndex` — streets/communities/grids from GeoJSON, point-in-grid (WGS-84);
- :class:`Gazetteer` — free-text address -> :class:`AddressMatch` (point, grid, confidence), and the address
  written inside a message (:meth:`Places.extract`);
- :meth:`Places.check_point` — the grid of a coordinate, or a flag that it lies outside the district;
- :func:`gcj02_to_wgs84` / :func:`wgs84_to_gcj02` — WeChat/AMap coordinates;
- :func:`default_places` — the packaged demo district (成都市成华区), cached.

Environment: ``LINKAGE_PLACES_GEOJSON`` and ``LINKAGE_GAZETTEER`` replace the packaged files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .gazetteer import Gazetteer
from .geo import gcj02_to_wgs84, haversine_m, wgs84_to_gcj02
from .index import PlaceIndex
from .models import (
    AddressCandidate,
    AddressMatch,
    AddressStatus,
    AreaRef,
    ExtractedAddress,
    GridRef,
    GridWorker,
    PlaceDataError,
    PlaceRef,
    Point,
    PointCheck,
    Precision,
)

__all__ = [
    "DATA_DIR",
    "DEFAULT_GAZETTEER",
    "DEFAULT_GEOJSON",
    "AddressCandidate",
    "AddressMatch",
    "AddressStatus",
    "AreaRef",
    "ExtractedAddress",
    "Gazetteer",
    "GridRef",
    "GridWorker",
    "PlaceDataError",
    "PlaceIndex",
    "PlaceRef",
    "Places",
    "OUTSIDE_DISTRICT_NOTE",
    "Point",
    "PointCheck",
    "Precision",
    "default_places",
    "gcj02_to_wgs84",
    "haversine_m",
    "load_places",
    "wgs84_to_gcj02",
]

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_GEOJSON = DATA_DIR / "demo_district.geojson"
DEFAULT_GAZETTEER = DATA_DIR / "gazetteer.yaml"
ENV_GEOJSON = "LINKAGE_PLACES_GEOJSON"
ENV_GAZETTEER = "LINKAGE_GAZETTEER"
GPS_TOLERANCE_M = 30.0
"""A point this close outside the district's edge is taken to its nearest grid (GPS error); farther out it is
flagged as outside the district."""
OUTSIDE_DISTRICT_NOTE = "坐标不在本区范围内"


@dataclass(frozen=True)
class Places:
    """The map and the gazetteer loaded together."""

    index: PlaceIndex
    gazetteer: Gazetteer

    def locate(self, lon: float, lat: float, *, gcj02: bool = False) -> GridRef | None:
        """Grid of a point; pass ``gcj02=True`` for WeChat/AMap coordinates."""
        return self.index.locate_gcj02(lon, lat) if gcj02 else self.index.locate(lon, lat)

    def resolve(self, text: str) -> AddressMatch:
        return self.gazetteer.resolve(text)

    def extract(self, text: str) -> ExtractedAddress | None:
        """The address written inside a free-text message, resolved (None when it names no place)."""
        return self.gazetteer.extract(text)

    def check_point(
        self, lon: float, lat: float, *, gcj02: bool = False, tolerance_m: float = GPS_TOLERANCE_M
    ) -> PointCheck:
        """The grid of a point, or ``outside_district`` for a point beyond the district's polygons (plus
        ``tolerance_m`` of GPS error): such a point is never given an inside grid."""
        if gcj02:
            lon, lat = gcj02_to_wgs84(lon, lat)
        grid = self.index.locate(lon, lat, tolerance_m=tolerance_m)
        if grid is not None:
            return PointCheck(grid=grid, outside_district=False)
        return PointCheck(
            grid=None, outside_district=True, distance_m=round(self.index.distance_to_district_m(lon, lat))
        )


def load_places(geojson: str | Path, gazetteer: str | Path) -> Places:
    """Load a map and a gazetteer from files (raises :class:`PlaceDataError`)."""
    index = PlaceIndex.from_geojson(geojson)
    return Places(index=index, gazetteer=Gazetteer.from_yaml(gazetteer, index))


@lru_cache(maxsize=1)
def default_places() -> Places:
    """The packaged demo data, or the files named by LINKAGE_PLACES_GEOJSON / LINKAGE_GAZETTEER.

    Cached for the process; call ``default_places.cache_clear()`` after changing the variables.
    """
    return load_places(
        os.environ.get(ENV_GEOJSON) or DEFAULT_GEOJSON, os.environ.get(ENV_GAZETTEER) or DEFAULT_GAZETTEER
    )
