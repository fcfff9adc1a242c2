"""Coordinate reference systems: EPSG codes via pyproj, and China's web-map offsets.

Chinese web maps and the WeChat mini program report GCJ-02 ("Mars")
coordinates, and Baidu BD-09; both are WGS-84 plus a deliberate, non-linear
offset of a few hundred metres. The forward transforms are published; there
is no closed-form inverse, and the common one-step inverse (subtract the
offset computed at the shifted point) is off by metres. ``gcj02_to_wgs84``
and ``bd09_to_wgs84`` therefore invert iteratively (a fixed-point iteration
that converges to well under a millimetre in a few steps). Points outside
China are not shifted by the forward transform, so they are returned as given.
"""

from __future__ import annotations

import math
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gridgis.errors import InvalidInput

# Krasovsky 1940 ellipsoid, as in the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
#: Names accepted for the two offset systems (case-insensitive).
GCJ02_NAMES = {"gcj02", "gcj-02", "gcj"}
BD09_NAMES = {"bd09", "bd-09", "bd09ll", "baidu"}


def out_of_china(lon: float, lat: float) -> bool:
    """The bounding box the published algorithm uses to leave points unshifted."""
    return not (73.66 < lon < 135.05 and 3.86 < lat < 53.55)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The published forward transform WGS-84 → GCJ-02."""
    if out_of_china(lon, lat):
        return lon, lat
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = math.sin(radlat)
    magic = 1 - _EE * magic * magic
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward, lon: float, lat: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Solve forward(p) == (lon, lat) by fixed-point iteration.

    The offset varies slowly (well under 1e-3 of its size per degree), so each
    step shrinks the error by about three orders of magnitude; 1e-10 degrees is
    about 0.01 mm.
    """
    x, y = lon, lat
    for _ in range(30):
        fx, fy = forward(x, y)
        dx, dy = lon - fx, lat - fy
        x, y = x + dx, y + dy
        if abs(dx) < 1e-10 and abs(dy) < 1e-10:
            break
    return x, y


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Iterative inverse of :func:`wgs84_to_gcj02` (error ≪ 0.5 m)."""
    if out_of_china(lon, lat):
        return lon, lat
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Iterative inverse of :func:`wgs84_to_bd09` (error ≪ 0.5 m)."""
    if out_of_china(lon, lat):
        return lon, lat
    return _invert(wgs84_to_bd09, lon, lat)


def _transformer(source: str) -> Transformer:
    found = _lookup(source)
    if isinstance(found, str):
        raise InvalidInput(found)
    return found


@lru_cache(maxsize=64)
def _lookup(source: str) -> Transformer | str:
    """The transformer for ``source``, or why there is none.

    Failures are cached too: looking up an unknown name can take pyproj a third
    of a second, and a batch repeats the same CRS for every row.
    """
    try:
        crs = CRS.from_user_input(source)
    except CRSError:
        return (
            f"Unknown CRS {source!r}: give an EPSG code such as EPSG:4326 or EPSG:4547, "
            "or 'gcj02' / 'bd09' for Chinese web-map coordinates."
        )
    return Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)


@lru_cache(maxsize=256)
def normalise_crs_name(crs: str | int | None) -> str:
    """'4326', 4326, 'epsg:4326' → 'EPSG:4326'; gcj02/bd09 spellings → 'gcj02'/'bd09'."""
    if crs is None or crs == "":
        return "EPSG:4326"
    text = str(crs).strip()
    lowered = text.lower()
    if lowered in GCJ02_NAMES:
        return "gcj02"
    if lowered in BD09_NAMES:
        return "bd09"
    if text.isdigit():
        return f"EPSG:{text}"
    if lowered.startswith("epsg:"):
        return "EPSG:" + text[5:]
    return text


def to_wgs84(x: float, y: float, crs: str | int | None = "EPSG:4326") -> tuple[float, float]:
    """One point from any supported CRS to WGS-84 lon/lat (DESIGN.md routing rule 1)."""
    name = normalise_crs_name(crs)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput(f"Coordinates must be finite numbers, got ({x}, {y}).")
    if name == "gcj02":
        lon, lat = gcj02_to_wgs84(x, y)
    elif name == "bd09":
        lon, lat = bd09_to_wgs84(x, y)
    elif name in ("EPSG:4326", "EPSG:4490"):  # CGCS2000 equals WGS-84 within centimetres
        lon, lat = x, y
    else:
        lon, lat = _transformer(name).transform(x, y)
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0) or not math.isfinite(lon + lat):
        raise InvalidInput(
            f"({x}, {y}) in {name} is not a place on Earth (longitude must be within ±180 and "
            "latitude within ±90); check the CRS and the order of the coordinates."
        )
    return lon, lat
