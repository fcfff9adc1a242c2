"""The declarative base, the one SRID, and the column helpers every model uses.

Every geometry is stored in EPSG:4326 (``SRID``) as a MultiPolygon so that
real-world footprints with several parts load without special cases, has a
named GiST index, and must be valid (a CHECK constraint, so no code path can
store a broken polygon).
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    DateTime,
    MetaData,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: The one SRID of stored geometry (WGS 84 lon/lat; CGCS2000 is taken as equal).
SRID = 4326


def check_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression: ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def check_valid(column: str = "geom") -> str:
    """A CHECK expression: the geometry in ``column`` is valid (or NULL)."""
    return f"{column} IS NULL OR ST_IsValid({column})"


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def polygons(nullable: bool = False) -> Mapped[WKBElement]:
    """A MultiPolygon column in ``SRID``."""
    # spatial_index=False: the GiST indexes are declared by name in __table_args__
    # so that migrations and models agree on them.
    return mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=nullable
    )


def created() -> Mapped[dt.datetime]:
    """A creation time set by the database."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
