"""Places for intake: district map, point-in-grid, address gazetteer, GCJ-02 conversion.

See :mod:`services.intake.places.service` for the public API.
"""

from .service import (
    OUTSIDE_DISTRICT_NOTE,
    AddressCandidate,
    AddressMatch,
    AreaRef,
    ExtractedAddress,
    Gazetteer,
    GridRef,
    GridWorker,
    PlaceDataError,
    PlaceIndex,
    PlaceRef,
    Places,
    PointCheck,
    default_places,
    gcj02_to_wgs84,
    load_places,
    wgs84_to_gcj02,
)

__all__ = [
    "OUTSIDE_DISTRICT_NOTE",
    "AddressCandidate",
    "AddressMatch",
    "AreaRef",
    "ExtractedAddress",
    "Gazetteer",
    "GridRef",
    "GridWorker",
    "PlaceDataError",
    "PlaceIndex",
    "PlaceRef",
    "Places",
    "PointCheck",
    "default_places",
    "gcj02_to_wgs84",
    "load_places",
    "wgs84_to_gcj02",
]
