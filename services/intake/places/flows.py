"""Placing a complaint: what intake's channels and the complaint flow ask of the places package.

- :func:`place_of_point` — the grid (属地) of a WGS-84 point, or a place flagged ``outside_district`` with the
  note "坐标不在本区范围内" for a point beyond the district's polygons (never snapped to an inside grid);
- :func:`place_of_address` — a written address through the gazetteer: a point and its grid, or only the
  street/community when that is all the address says (``双桥子`` → 双桥子街道);
- :func:`placement` — the place fields of a new complaint from what it came with: its point, else its
  address, else the address written inside its text (WeChat, app, an operator's summary).

The results are event shapes (:class:`shared.events.complaints.PlaceRef`, :class:`GeoPoint`), ready for a
complaint draft or a ``complaint.supplemented.v1`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.events.complaints import GeoPoint
from shared.events.complaints import PlaceRef as EventPlace

from .models import AddressMatch, AreaRef, GridRef
from .service import OUTSIDE_DISTRICT_NOTE, default_places

__all__ = ["Placement", "event_place", "place_of_address", "place_of_point", "placement"]

AddressStatus = Literal["resolved", "ambiguous", "unresolved", "none"]


@dataclass(frozen=True)
class Placement:
    """Place fields for a complaint: ``place`` (grid or area, or the outside flag), ``location`` when the
    gazetteer gave the point, and ``address``/``address_status`` when an address was read."""

    place: EventPlace | None = None
    location: GeoPoint | None = None
    address: str | None = None
    address_status: AddressStatus = "none"


def event_place(grid: GridRef | None = None, area: AreaRef | None = None) -> EventPlace | None:
    """The event's PlaceRef for a grid (street, community and grid) or an area (street, maybe community)."""
    if grid is not None:
        return EventPlace(
            street_code=grid.street_code,
            street_name=grid.street_name,
            community_code=grid.community_code,
            community_name=grid.community_name,
            grid_code=grid.grid_code,
            grid_name=grid.grid_name,
        )
    if area is not None:
        return EventPlace(
            street_code=area.street_code,
            street_name=area.street_name,
            community_code=area.community_code,
            community_name=area.community_name,
        )
    return None


def place_of_point(point: GeoPoint) -> EventPlace:
    """Grid of a WGS-84 point (30 m of GPS tolerance at the edge), or the outside-the-district flag."""
    check = default_places().check_point(point.lon, point.lat)
    if check.grid is not None:
        place = event_place(check.grid)
        assert place is not None
        return place
    return EventPlace(outside_district=True, note=OUTSIDE_DISTRICT_NOTE)


def _from_match(match: AddressMatch) -> tuple[EventPlace | None, GeoPoint | None]:
    if match.status != "resolved":
        return None, None
    location = GeoPoint(lon=match.point[0], lat=match.point[1], source="gazetteer") if match.point else None
    return event_place(match.grid, match.area), location


def place_of_address(address: str) -> Placement:
    """A written address through the gazetteer (``resolved`` gives a place; nothing is guessed otherwise)."""
    match = default_places().resolve(address)
    place, location = _from_match(match)
    return Placement(place=place, location=location, address_status=match.status)


def placement(location: GeoPoint | None, address: str | None, text: str | None) -> Placement:
    """Place fields of a new complaint: the point wins, then the written address, then an address found in
    the text (only when neither a point nor an address was given)."""
    if location is not None:
        return Placement(place=place_of_point(location))
    if address and address.strip():
        return place_of_address(address)
    found = default_places().extract(text) if text else None
    if found is None:
        return Placement()
    place, point = _from_match(found.match)
    return Placement(place=place, location=point, address=found.text[:300], address_status=found.match.status)
