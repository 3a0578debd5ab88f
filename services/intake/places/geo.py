"""Coordinate helpers: GCJ-02 ("Mars coordinates") <-> WGS-84, and great-circle distance.

WeChat location messages, AMap (高德) and Tencent maps give GCJ-02 coordinates; our grid
map and the gazetteer are WGS-84. Convert with :func:`gcj02_to_wgs84` before a grid lookup.

The forward transform is the widely published GCJ-02 obfuscation formula (Krasovsky 1940
ellipsoid, ``a = 6378245``). The inverse has no closed form: :func:`gcj02_to_wgs84` iterates
the forward transform until the round trip error is below ``1e-7`` degrees (about 1 cm).
Outside mainland China (the usual rough bounding box) GCJ-02 equals WGS-84 and both
functions return the input unchanged.
"""

from __future__ import annotations

import math

__all__ = [
    "EARTH_RADIUS_M",
    "gcj02_to_wgs84",
    "haversine_m",
    "out_of_china",
    "wgs84_to_gcj02",
]

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius, for haversine distances
_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_INVERSE_TOLERANCE_DEG = 1e-7
_INVERSE_MAX_ITERATIONS = 30


def out_of_china(lon: float, lat: float) -> bool:
    """True where GCJ-02 is not applied (the conventional rough bounding box of China)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _offset(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 offset (d_lon, d_lat) in degrees at a WGS-84 point."""
    d_lat = _transform_lat(lon - 105.0, lat - 35.0)
    d_lon = _transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 (lon, lat) -> GCJ-02 (lon, lat); unchanged outside China."""
    if out_of_china(lon, lat):
        return lon, lat
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 (lon, lat) -> WGS-84 (lon, lat), exact to ``1e-7`` degrees; unchanged outside China.

    Fixed-point iteration: start from the GCJ-02 point, apply the forward transform, and move the
    estimate by the error until ``wgs84_to_gcj02(result)`` is within ``1e-7`` degrees of the input.
    """
    if out_of_china(lon, lat):
        return lon, lat
    w_lon, w_lat = lon, lat
    for _ in range(_INVERSE_MAX_ITERATIONS):
        g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = g_lon - lon, g_lat - lat
        if abs(e_lon) < _INVERSE_TOLERANCE_DEG and abs(e_lat) < _INVERSE_TOLERANCE_DEG:
            break
        w_lon, w_lat = w_lon - e_lon, w_lat - e_lat
    return w_lon, w_lat


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two (lon, lat) points in degrees."""
    lon1, lat1 = math.radians(a[0]), math.radians(a[1])
    lon2, lat2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
