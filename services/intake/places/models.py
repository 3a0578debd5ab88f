"""Value types shared by the place index and the gazetteer (pydantic, frozen, JSON-ready)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AddressCandidate",
    "AddressMatch",
    "AddressStatus",
    "GridRef",
    "GridWorker",
    "Level",
    "PlaceDataError",
    "PlaceRef",
    "Point",
    "Precision",
]

Point = tuple[float, float]
"""(lon, lat) in WGS-84 degrees."""

Level = Literal["street", "community", "grid"]
AddressStatus = Literal["resolved", "ambiguous", "unresolved"]
Precision = Literal["house_number", "intersection", "landmark", "grid", "road", "community", "street"]


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

    - ``resolved``: ``point`` and ``grid`` are set (``grid`` is None only for a point outside the map);
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
