"""Value types shared by the place index and the gazetteer (pydantic, frozen, JSON-ready)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AddressCandidate",
    "AddressMatch",
    "AddressStatus",
    "AreaRef",
    "ExtractedAddress",
    "GridRef",
    "GridWorker",
    "Level",
    "PlaceDataError",
    "PlaceRef",
    "Point",
    "PointCheck",
    "Precision",
]

Point = tuple[float, float]
"""(lon, lat) in WGS-84 degrees."""

Level = Literal["street", "community", "grid"]
AddressStatus = Literal["resolved", "ambiguous", "unresolved"]
Precision = Literal[
    "building", "compound", "house_number", "intersection", "landmark", "grid", "road", "community", "street"
]


class PlaceDataError(ValueError):
    """The map or the gazetteer is unusable; the message names the feature/entry and the problem."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class GridWorker(_Frozen):
    """A grid worker (网格员) assigned to a grid."""

    id: str
    name: str = ""


class PlaceRef(_Frozen):
    """A street, community or grid: its level, code, Chinese name and parent code."""

    level: Level
    code: str
    name: str
    parent: str


class GridRef(_Frozen):
    """A grid with its community and street: what a point or an address resolves to (属地)."""

    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    workers: tuple[GridWorker, ...] = ()

    @property
    def worker_ids(self) -> tuple[str, ...]:
        return tuple(w.id for w in self.workers)


class AreaRef(_Frozen):
    """The street (and community, when known) an address lies in: what is known of an address that names only a
    street or a community (``双桥子`` → 双桥子街道), or the area of a resolved grid."""

    street_code: str
    street_name: str
    community_code: str | None = None
    community_name: str | None = None


class AddressCandidate(_Frozen):
    """One possible reading of an address (shown to the operator when the match is ambiguous)."""

    matched: str
    point: Point
    grid: GridRef | None
    confidence: float
    precision: Precision
    fuzzy: bool = False


class AddressMatch(_Frozen):
    """Result of :meth:`Gazetteer.resolve`.

    - ``resolved``: ``point`` and ``grid`` are set (``grid`` is None only for a point outside the map), or, for an
      address naming only a street or a community (precision ``street``/``community``), ``point`` and ``grid`` are
      None and ``area`` says which street/community (属地 is known, the grid is not);
    - ``ambiguous``: ``point``/``grid`` are None, ``candidates`` holds up to 3 readings, best first;
    - ``unresolved``: nothing usable; the operator must ask the caller.
    """

    status: AddressStatus
    confidence: float
    point: Point | None = None
    grid: GridRef | None = None
    matched: str = ""
    precision: Precision | None = None
    fuzzy: bool = False
    candidates: tuple[AddressCandidate, ...] = ()
    normalized: str = ""
    area: AreaRef | None = None


class ExtractedAddress(_Frozen):
    """An address found inside a free-text message (WeChat, app, an operator's summary) and its reading."""

    text: str
    """the address part of the message, normalised (``建设路街道双林路66号``)"""
    match: AddressMatch


class PointCheck(_Frozen):
    """Where a coordinate lies: its grid, or outside the district's polygons (never snapped to an inside grid)."""

    grid: GridRef | None
    outside_district: bool
    distance_m: float = 0.0
    """distance to the district's edge for a point outside it (0 inside)"""
