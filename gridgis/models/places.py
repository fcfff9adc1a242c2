"""Places: communities, layouts and grids, compounds, buildings and units.

Alembic migrations (``migrations/``) are the schema's only source; these models
must agree with them (``tests/gridgis/models/test_migrations.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgis.models.base import SRID, Base, check_in, check_valid, created, polygons
from gridgis.models.catalogue import Department
from gridgis.models.roles import LAYOUT_STATUSES

__all__ = ["SRID", "Building", "Community", "Compound", "Grid", "Layout", "RoutingEpoch", "Unit"]


class Community(Base):
    """社区: the area one party-committee office governs."""

    __tablename__ = "community"
    __table_args__ = (
        CheckConstraint(check_valid("boundary"), name="boundary_valid"),
        CheckConstraint("gap_tolerance_m >= 0", name="gap_tolerance_nonnegative"),
        CheckConstraint(
            "households_min IS NULL OR households_max IS NULL OR households_min <= households_max",
            name="household_band",
        ),
        Index("ix_community_boundary", "boundary", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    boundary: Mapped[WKBElement] = polygons()
    #: Incidents in a gap between grids go to the nearest grid within this distance.
    gap_tolerance_m: Mapped[float] = mapped_column(Float, server_default=text("30"))
    #: Target band of households per grid (configured per community, DESIGN.md).
    households_min: Mapped[int | None] = mapped_column(Integer)
    households_max: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = created()

    layouts: Mapped[list[Layout]] = relationship(back_populates="community")


class Layout(Base):
    """网格方案: one complete set of grids for a community, effective from a date.

    Like MapIt's generations, a layout is drafted (``status='draft'``), checked,
    then published with ``valid_from``; publishing closes the previous layout
    with ``valid_to``. History is never rewritten. The exclusion constraint
    makes it impossible for two published layouts of one community to be in
    force at the same instant; ``gridgis.geo.layouts.publish_layout`` keeps the
    periods contiguous, so exactly one is in force from the first publication on.
    """

    __tablename__ = "layout"
    __table_args__ = (
        UniqueConstraint("community_id", "name"),
        CheckConstraint(check_in("status", LAYOUT_STATUSES), name="status"),
        CheckConstraint("status = 'draft' OR valid_from IS NOT NULL", name="published_has_start"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'draft'"))
    valid_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = created()
    #: Its publisher asked for open incidents to be rerouted at the cut-over.
    reroute_open: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    #: When the worker rerouted them (once; None: not yet, or not asked).
    rerouted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    community: Mapped[Community] = relationship(back_populates="layouts")
    grids: Mapped[list[Grid]] = relationship(back_populates="layout")


# Declared after the class because it needs the mapped columns.
_layout_table = cast(Table, Layout.__table__)
_layout_table.append_constraint(
    ExcludeConstraint(
        (_layout_table.c.community_id, "="),
        (func.tstzrange(_layout_table.c.valid_from, _layout_table.c.valid_to), "&&"),
        where=text("status = 'published'"),
        using="gist",
        name="ex_layout_one_in_force",
    )
)


class Grid(Base):
    """网格: a piece of a community, in one layout. Codes are unique per layout."""

    __tablename__ = "grid"
    __table_args__ = (
        UniqueConstraint("layout_id", "code"),
        CheckConstraint(check_valid(), name="geom_valid"),
        Index("ix_grid_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("layout.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    geom: Mapped[WKBElement] = polygons()
    #: Kept out of painting and rebalancing while a planner works on its neighbours.
    locked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    layout: Mapped[Layout] = relationship(back_populates="grids")


class Compound(Base):
    """小区: a residential compound with its property company (物业)."""

    __tablename__ = "compound"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint(check_valid(), name="geom_valid"),
        Index("ix_compound_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("community.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL")
    )
    #: 业委会: whether the owners have elected a committee.
    has_owners_committee: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    geom: Mapped[WKBElement] = polygons()

    property_company: Mapped[Department | None] = relationship()


class Building(Base):
    """楼栋: a footprint with address, floors and households."""

    __tablename__ = "building"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint(check_valid(), name="geom_valid"),
        CheckConstraint("floors IS NULL OR floors >= 0", name="floors_nonnegative"),
        CheckConstraint("households IS NULL OR households >= 0", name="households_nonnegative"),
        Index("ix_building_geom", "geom", postgresql_using="gist"),
        # Trigram indexes for routing by a typed address or building name (pg_trgm).
        Index(
            "ix_building_address_trgm",
            "address",
            postgresql_using="gin",
            postgresql_ops={"address": "gin_trgm_ops"},
        ),
        Index(
            "ix_building_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("community.id", ondelete="CASCADE"), index=True
    )
    compound_id: Mapped[int | None] = mapped_column(
        ForeignKey("compound.id", ondelete="SET NULL"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    floors: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = polygons()

    compound: Mapped[Compound | None] = relationship()
    units: Mapped[list[Unit]] = relationship(back_populates="building")


class Unit(Base):
    """单元: a stairwell section of a building; its polygon lies inside the building.

    The foreign key makes a unit belong to exactly one building; the trigger
    ``unit_inside_building`` (see the first migration) refuses a polygon that
    leaves its building by more than half a metre.
    """

    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint("building_id", "number"),
        CheckConstraint(check_valid(), name="geom_valid"),
        CheckConstraint("households IS NULL OR households >= 0", name="households_nonnegative"),
        Index("ix_unit_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(32))
    households: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = polygons()

    building: Mapped[Building] = relationship(back_populates="units")


class RoutingEpoch(Base):
    """One number that changes whenever anything routing reads changes.

    Statement-level triggers (migration 0002) set it from a sequence after
    every write to communities, layouts, grids, compounds, buildings, units,
    departments and categories. A sequence never hands out a number twice, even
    across rolled-back transactions, so a routing cache keyed by the epoch a
    session sees is exactly that session's committed view (``routing_cache``).
    """

    __tablename__ = "routing_epoch"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
