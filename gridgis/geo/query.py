"""Reading request parameters: bbox, limit and offset.

They live in the domain, not in ``web/``, so that every surface (API, CLI)
refuses a bad value with the same sentence a person can act on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from gridgis.errors import InvalidInput
from gridgis.models import SRID

DEFAULT_LIMIT = 1000
#: A page larger than this is refused: city-wide layers go through bbox paging.
MAX_LIMIT = 5000
_BBOX_FORMAT = (
    "bbox must be four numbers minlon,minlat,maxlon,maxlat with minlon < maxlon "
    "and minlat < maxlat (e.g. bbox=114.30,30.58,114.32,30.60)"
)


@dataclass(frozen=True)
class BBox:
    """A lon/lat bounding box in EPSG:4326 (not crossing the antimeridian)."""

    minlon: float
    minlat: float
    maxlon: float
    maxlat: float

    def envelope(self) -> ColumnElement[Any]:
        return sa.func.ST_MakeEnvelope(self.minlon, self.minlat, self.maxlon, self.maxlat, SRID)


def parse_bbox(text: str) -> BBox:
    """Read ``minlon,minlat,maxlon,maxlat``; raise InvalidInput saying what is wrong."""
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(f"{_BBOX_FORMAT}; got {text!r}.")
    minlon, minlat, maxlon, maxlat = numbers
    if not (-180 <= minlon <= 180 and -180 <= maxlon <= 180):
        raise InvalidInput(
            f"bbox longitudes must be between -180 and 180 (is the order lon,lat?); got {text!r}."
        )
    if not (-90 <= minlat <= 90 and -90 <= maxlat <= 90):
        raise InvalidInput(
            f"bbox latitudes must be between -90 and 90 (is the order lon,lat?); got {text!r}."
        )
    if not (minlon < maxlon and minlat < maxlat):
        raise InvalidInput(f"{_BBOX_FORMAT}; got {text!r}.")
    return BBox(minlon, minlat, maxlon, maxlat)


def parse_limit(text: str | None) -> int:
    """A page size from 1 to MAX_LIMIT (DEFAULT_LIMIT when absent)."""
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be a whole number from 1 to {MAX_LIMIT}; got {text!r}. "
            "Page through larger layers with offset= or narrow them with bbox=."
        )
    return int(text)


def parse_offset(text: str | None) -> int:
    """A non-negative number of features to skip (0 when absent)."""
    if text is None or text == "":
        return 0
    if not text.isdigit():
        raise InvalidInput(f"offset must be a whole number, 0 or more; got {text!r}.")
    return int(text)
